#include "tcpleak/identity/proc_files.hpp"

#include <vector>

namespace tcpleak::identity {

namespace {

std::vector<std::string_view> split_on_spaces(std::string_view line) {
    std::vector<std::string_view> fields;
    for (std::size_t start = 0; start <= line.size();) {
        std::size_t space = line.find(' ', start);
        if (space == std::string_view::npos)
            space = line.size();
        fields.push_back(line.substr(start, space - start));
        start = space + 1;
    }
    return fields;
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape_octal(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size() && is_octal(text[i + 1]) && is_octal(text[i + 2]) &&
            is_octal(text[i + 3])) {
            out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
            i += 3;
        } else {
            out += text[i];
        }
    }
    return out;
}

// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the
// optional fields end at a lone "-", the filesystem type follows it.
std::optional<std::string> cgroup2_mount_point(std::string_view line) {
    const std::vector<std::string_view> fields = split_on_spaces(line);
    for (std::size_t i = 6; i + 1 < fields.size(); ++i)
        if (fields[i] == "-")
            return fields[i + 1] == "cgroup2" ? std::optional(unescape_octal(fields[4])) : std::nullopt;
    return std::nullopt;
}

} // namespace

std::optional<std::string> find_cgroup2_mount(std::string_view mountinfo) {
    for (std::size_t start = 0; start < mountinfo.size();) {
        std::size_t end = mountinfo.find('\n', start);
        if (end == std::string_view::npos)
            end = mountinfo.size();
        if (auto mount_point = cgroup2_mount_point(mountinfo.substr(start, end - start)))
            return mount_point;
        start = end + 1;
    }
    return std::nullopt;
}

std::optional<std::string> cgroup2_path_in_proc_cgroup(std::string_view proc_cgroup) {
    constexpr std::string_view kV2 = "0::";
    std::size_t at = proc_cgroup.starts_with(kV2) ? 0 : proc_cgroup.find("\n0::");
    if (at == std::string_view::npos)
        return std::nullopt;
    std::string_view path = proc_cgroup.substr(at == 0 ? kV2.size() : at + 1 + kV2.size());
    if (path.ends_with('\n'))
        path.remove_suffix(1);
    if (!path.starts_with('/'))
        return std::nullopt;
    return std::string(path);
}

} // namespace tcpleak::identity
