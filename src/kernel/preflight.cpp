#include "tcpleak/kernel/preflight.hpp"

#include "tcpleak/sys/errors.hpp"

#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <string>

namespace tcpleak {

namespace {
bool has_capability(std::uint64_t effective, int cap) { return (effective >> cap) & 1U; }

std::string join_with_and(const std::vector<std::string>& names) {
    std::string joined;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0)
            joined += i + 1 == names.size() ? " and " : ", ";
        joined += names[i];
    }
    return joined;
}
} // namespace

std::vector<std::string> missing_capabilities(std::uint64_t effective) {
    if (has_capability(effective, kCapSysAdmin))
        return {};
    std::vector<std::string> missing;
    if (!has_capability(effective, kCapBpf))
        missing.emplace_back("CAP_BPF");
    if (!has_capability(effective, kCapPerfmon))
        missing.emplace_back("CAP_PERFMON");
    return missing;
}

std::uint64_t effective_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (syscall(SYS_capget, &header, data) != 0)
        return 0;
    return static_cast<std::uint64_t>(data[1].effective) << 32 | data[0].effective;
}

bool kernel_has_btf(std::string_view btf_path) {
    struct stat st{};
    return stat(std::string(btf_path).c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

void require_bpf_environment(std::string_view command, std::string_view btf_path) {
    if (!kernel_has_btf(btf_path))
        throw UserError("this kernel has no BTF type information (" + std::string(btf_path) +
                        " is missing); tcpleak needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8+)");
    const auto missing = missing_capabilities(effective_capabilities());
    if (!missing.empty())
        throw UserError("missing " + join_with_and(missing) +
                        " (needed to load BPF programs); run as root: sudo tcpleak " + std::string(command));
}

bool process_exists(std::uint32_t pid) {
    if (pid == 0 || pid > 0x3fffffff)
        return false;
    return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::optional<std::uint32_t> thread_group_of(std::uint32_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Tgid:", 0) == 0)
            return static_cast<std::uint32_t>(std::stoul(line.substr(5)));
    return std::nullopt;
}

void require_processes_exist(const std::vector<std::uint32_t>& pids) {
    for (const auto pid : pids) {
        if (!process_exists(pid))
            throw UserError("no process with pid " + std::to_string(pid));
        // A thread id (from top -H, say) exists too, but sockets belong to
        // processes: the filter would never match.
        if (const auto tgid = thread_group_of(pid); tgid && *tgid != pid)
            throw UserError(std::to_string(pid) + " is a thread of process " + std::to_string(*tgid) + ": use -p " +
                            std::to_string(*tgid));
    }
}

} // namespace tcpleak
