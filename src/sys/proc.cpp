#include "tcpleak/sys/proc.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>

namespace tcpleak {

std::string join_args(std::string_view nul_separated) {
    while (!nul_separated.empty() && nul_separated.back() == '\0')
        nul_separated.remove_suffix(1);
    std::string joined(nul_separated);
    for (char& c : joined)
        if (c == '\0')
            c = ' ';
    return joined;
}

std::string read_cmdline(std::uint32_t pid, std::size_t max_bytes) {
    const std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    std::string bytes(max_bytes, '\0');
    std::size_t filled = 0;
    while (filled < bytes.size()) {
        const ssize_t n = read(fd, bytes.data() + filled, bytes.size() - filled);
        if (n <= 0)
            break;
        filled += static_cast<std::size_t>(n);
    }
    close(fd);
    bytes.resize(filled);
    return join_args(bytes);
}

std::uint64_t mount_namespace_of(std::uint32_t pid) {
    const std::string path = pid == 0 ? "/proc/self/ns/mnt" : "/proc/" + std::to_string(pid) + "/ns/mnt";
    struct stat st{};
    return stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

} // namespace tcpleak
