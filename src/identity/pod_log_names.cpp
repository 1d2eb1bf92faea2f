#include "tcpleak/identity/pod_log_names.hpp"

#include "names.hpp"

namespace tcpleak::identity {

namespace {

// The last '/'-separated component of `path`, which then loses it and the '/'.
std::string_view pop_component(std::string_view& path) {
    const std::size_t slash = path.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
    return last;
}

} // namespace

std::optional<PodLogDir> parse_pod_log_dir(std::string_view name) {
    const auto parts = split_three(name, '_');
    if (!parts)
        return std::nullopt;
    const auto& [namespace_name, pod, uid] = *parts;
    std::optional<std::string> normal_uid = normalise_pod_uid(uid);
    if (!is_dns_label(namespace_name) || !is_dns_subdomain(pod) || !normal_uid)
        return std::nullopt;
    return PodLogDir{std::string(namespace_name), std::string(pod), std::move(*normal_uid)};
}

std::optional<ContainerLogLink> parse_container_log_link(std::string_view name) {
    constexpr std::size_t kIdBytes = 64;
    if (!name.ends_with(".log"))
        return std::nullopt;
    name.remove_suffix(4);
    if (name.size() < kIdBytes + 1 || name[name.size() - kIdBytes - 1] != '-')
        return std::nullopt;
    const std::string_view id = name.substr(name.size() - kIdBytes);
    const auto parts = split_three(name.substr(0, name.size() - kIdBytes - 1), '_');
    if (!parts || !is_container_id(id))
        return std::nullopt;
    const auto& [pod, namespace_name, container] = *parts;
    if (!is_dns_subdomain(pod) || !is_dns_label(namespace_name) || !is_dns_label(container))
        return std::nullopt;
    return ContainerLogLink{std::string(pod), std::string(namespace_name), std::string(container), std::string(id)};
}

std::optional<ContainerLogTarget> parse_container_log_target(std::string_view target) {
    const std::string_view file = pop_component(target);
    const std::string_view container = pop_component(target);
    std::optional<PodLogDir> pod = parse_pod_log_dir(pop_component(target));
    if (!file.ends_with(".log") || !is_dns_label(container) || !pod)
        return std::nullopt;
    return ContainerLogTarget{std::move(*pod), std::string(container)};
}

} // namespace tcpleak::identity
