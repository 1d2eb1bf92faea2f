// Network namespaces by inode (what the kernel's records carry), opened from
// a process that lives in one: /proc/PID/ns/net, or a name under /run/netns
// (ip netns). A namespace no process and no name keeps cannot be entered.
#pragma once

#include "tcpleak/sys/unique_fd.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tcpleak {

// This thread in network namespace netns_fd for its lifetime (-1: stays
// where it is), then back: what is opened meanwhile (an iterator, a
// /proc/sys/net file) belongs to that namespace. Throws UserError when
// either move fails.
class InNetworkNamespace {
public:
    explicit InNetworkNamespace(int netns_fd);
    ~InNetworkNamespace() noexcept(false);
    InNetworkNamespace(const InNetworkNamespace&) = delete;
    InNetworkNamespace& operator=(const InNetworkNamespace&) = delete;

private:
    UniqueFd home_;
};

class NetnsLocator {
public:
    explicit NetnsLocator(std::string proc = "/proc", std::string named = "/run/netns");

    // This process's own network namespace.
    std::uint32_t own() const { return own_; }
    // Every network namespace a process or a name keeps here (inodes, own
    // first, each once); remembers where each was found.
    std::vector<std::uint32_t> discover();
    // An fd of namespace `inode`; nullopt when nothing here keeps it (or it
    // is gone). Remembers where it found each one.
    std::optional<UniqueFd> open(std::uint32_t inode);

private:
    std::optional<UniqueFd> open_path(const std::string& path, std::uint32_t inode) const;

    std::string proc_;
    std::string named_;
    std::uint32_t own_ = 0;
    std::unordered_map<std::uint32_t, std::string> where_; // inode -> path that had it
};

} // namespace tcpleak
