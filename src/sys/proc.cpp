#include "tcpleak/sys/proc.hpp"

#include "tcpleak/sys/unique_fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string_view>

namespace tcpleak {

namespace {

void (*g_hidden_notice)(const std::string&) = nullptr;
bool g_hidden_noticed = false;

// /proc's hidepid= option as /proc/self/mountinfo shows it ("invisible"),
// or empty. The last mount on /proc is the one in use.
std::string proc_hidepid() {
    std::ifstream mountinfo("/proc/self/mountinfo");
    std::string line;
    std::string hidepid;
    while (std::getline(mountinfo, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point;
        fields >> id >> parent >> device >> root >> mount_point;
        const std::size_t separator = line.find(" - ");
        if (mount_point != "/proc" || separator == std::string::npos)
            continue;
        std::istringstream tail(line.substr(separator + 3));
        std::string type, source, options;
        tail >> type >> source >> options;
        if (type != "proc")
            continue;
        hidepid.clear();
        std::istringstream list(options);
        for (std::string option; std::getline(list, option, ',');)
            if (option.rfind("hidepid=", 0) == 0 && option != "hidepid=off" && option != "hidepid=0")
                hidepid = option;
    }
    return hidepid;
}

// open() of /proc/PID/cmdline failed with open_errno: is the process there,
// only hidden? hidepid=1 refuses (EPERM/EACCES); hidepid=2 and 4 pretend
// it does not exist (ENOENT), which kill(pid, 0) contradicts.
bool hidden_by_proc(std::uint32_t pid, int open_errno) {
    if (open_errno == EPERM || open_errno == EACCES)
        return true;
    return open_errno == ENOENT && pid != 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

void notice_hidden(std::uint32_t pid) {
    if (g_hidden_noticed)
        return;
    g_hidden_noticed = true;
    if (g_hidden_notice == nullptr)
        return;
    const std::string hidepid = proc_hidepid();
    g_hidden_notice("command lines are hidden: /proc " +
                    (hidepid.empty() ? "does not show process " + std::to_string(pid)
                                     : "is mounted with " + hidepid) +
                    " and tcpleak lacks CAP_SYS_PTRACE to see other users' processes; their cmdline is left empty");
}

} // namespace

void on_hidden_cmdlines(void (*notice)(const std::string& why)) { g_hidden_notice = notice; }

std::string join_args(const std::vector<std::string>& argv) {
    std::string joined;
    for (const std::string& arg : argv) {
        if (!joined.empty())
            joined.push_back(' ');
        joined += arg;
    }
    return joined;
}

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
    const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (hidden_by_proc(pid, errno))
            notice_hidden(pid);
        return {};
    }
    std::string bytes(max_bytes, '\0');
    std::size_t filled = 0;
    while (filled < bytes.size()) {
        const ssize_t n = read(fd.get(), bytes.data() + filled, bytes.size() - filled);
        if (n <= 0)
            break;
        filled += static_cast<std::size_t>(n);
    }
    bytes.resize(filled);
    return join_args(bytes);
}

std::uint64_t mount_namespace_of(std::uint32_t pid) {
    const std::string path = pid == 0 ? "/proc/self/ns/mnt" : "/proc/" + std::to_string(pid) + "/ns/mnt";
    struct stat st{};
    return stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

} // namespace tcpleak
