#include "tcpleak/sys/netns.hpp"

#include "tcpleak/sys/errors.hpp"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_set>

namespace tcpleak {

namespace {

std::uint32_t inode_of(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint32_t>(st.st_ino) : 0;
}

struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
};

bool all_digits(const char* name) {
    if (*name == '\0')
        return false;
    for (; *name; ++name)
        if (!std::isdigit(static_cast<unsigned char>(*name)))
            return false;
    return true;
}

} // namespace

InNetworkNamespace::InNetworkNamespace(int netns_fd) {
    if (netns_fd < 0)
        return;
    home_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_ || ::setns(netns_fd, CLONE_NEWNET) != 0)
        throw UserError("cannot enter a network namespace: " + std::string(std::strerror(errno)));
}

InNetworkNamespace::~InNetworkNamespace() noexcept(false) {
    // Staying would put every later socket of this process in the wrong namespace.
    if (home_ && ::setns(home_.get(), CLONE_NEWNET) != 0)
        throw UserError("cannot return to tcpleak's network namespace: " + std::string(std::strerror(errno)));
}

NetnsLocator::NetnsLocator(std::string proc, std::string named)
    : proc_(std::move(proc)), named_(std::move(named)), own_(inode_of(proc_ + "/self/ns/net")) {}

std::optional<UniqueFd> NetnsLocator::open_path(const std::string& path, std::uint32_t inode) const {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_ino != inode)
        return std::nullopt; // the process moved or exited since
    return fd;
}

std::vector<std::uint32_t> NetnsLocator::discover() {
    std::vector<std::uint32_t> found{own_};
    std::unordered_set<std::uint32_t> seen{own_};
    for (const std::string& base : {named_, proc_}) {
        std::unique_ptr<DIR, DirCloser> dir(::opendir(base.c_str()));
        if (!dir)
            continue;
        const bool processes = base == proc_;
        while (const dirent* entry = ::readdir(dir.get())) {
            if (processes ? !all_digits(entry->d_name) : entry->d_name[0] == '.')
                continue;
            const std::string path = base + "/" + entry->d_name + (processes ? "/ns/net" : "");
            const std::uint32_t inode = inode_of(path);
            if (inode == 0 || !seen.insert(inode).second)
                continue;
            where_.try_emplace(inode, path);
            found.push_back(inode);
        }
    }
    return found;
}

std::optional<UniqueFd> NetnsLocator::open(std::uint32_t inode) {
    if (const auto it = where_.find(inode); it != where_.end()) {
        if (auto fd = open_path(it->second, inode))
            return fd;
        where_.erase(it);
    }
    for (const std::string& base : {named_, proc_}) {
        std::unique_ptr<DIR, DirCloser> dir(::opendir(base.c_str()));
        if (!dir)
            continue;
        while (const dirent* entry = ::readdir(dir.get())) {
            const bool processes = base == proc_;
            if (processes ? !all_digits(entry->d_name) : entry->d_name[0] == '.')
                continue;
            const std::string path = base + "/" + entry->d_name + (processes ? "/ns/net" : "");
            if (inode_of(path) != inode)
                continue;
            if (auto fd = open_path(path, inode)) {
                where_[inode] = path;
                return fd;
            }
        }
    }
    return std::nullopt;
}

} // namespace tcpleak
