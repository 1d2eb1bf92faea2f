#include "tcpleak/sys/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <string_view>

namespace tcpleak {

namespace {

// A sysctl value is a few bytes; anything longer is not one of ours.
constexpr std::size_t kMaxSysctlBytes = 64;

std::optional<std::string> read_small_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    char buffer[kMaxSysctlBytes + 1];
    std::size_t filled = 0;
    while (filled < sizeof(buffer)) {
        const ssize_t n = ::read(fd, buffer + filled, sizeof(buffer) - filled);
        if (n < 0) {
            ::close(fd);
            return std::nullopt; // EISDIR, EIO...: unreadable
        }
        if (n == 0)
            break;
        filled += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (filled > kMaxSysctlBytes)
        return std::nullopt;
    return std::string(buffer, filled);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

std::optional<std::uint32_t> parse_u32(std::string_view text) {
    text = trim(text);
    if (text.empty() || text.front() == '-' || text.front() == '+')
        return std::nullopt;
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

std::optional<std::uint32_t> read_sysctl_u32(const std::string& path) {
    const auto text = read_small_file(path);
    return text ? parse_u32(*text) : std::nullopt;
}

TcpSysctls read_tcp_sysctls(const std::string& directory) {
    TcpSysctls s;
    for (const TcpSysctlFile& file : kTcpSysctlFiles)
        s.*file.member = read_sysctl_u32(directory + "/" + std::string(file.name));
    return s;
}

std::optional<std::uint32_t> tcp_sysctl(const TcpSysctls& sysctls, std::string_view name) {
    for (const TcpSysctlFile& file : kTcpSysctlFiles)
        if (file.name == name)
            return sysctls.*file.member;
    return std::nullopt;
}

} // namespace tcpleak
