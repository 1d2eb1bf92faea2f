#include "tcpleak/identity/container_label.hpp"

namespace tcpleak::identity {

namespace {

constexpr std::size_t kShortIdDigits = 12;

} // namespace

std::string container_label(const Identity& identity) {
    if (!identity.pod.empty()) {
        std::string label = identity.namespace_name + "/" + identity.pod;
        if (!identity.container_name.empty())
            label += "/" + identity.container_name;
        return label;
    }
    if (!identity.container_id.empty())
        return identity.container_id.substr(0, kShortIdDigits);
    if (!identity.systemd_unit.empty())
        return identity.systemd_unit;
    return identity.cgroup_path == "/" ? "" : identity.cgroup_path;
}

} // namespace tcpleak::identity
