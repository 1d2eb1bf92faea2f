// What the leak watch reads from the kernel besides the ring buffer: the
// descriptor tables, the TCP tables, the owners the kernel remembers, its
// counters. An interface, so the watch is unit-tested with a fake kernel.
#pragma once

#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/verdict.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/netns.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace tcpleak {

class SocketScanner {
public:
    virtual ~SocketScanner() = default;
    // Every (socket, descriptor) pair, in every network namespace (start-up).
    virtual std::vector<SocketHolder> existing_sockets() = 0;
    // Every (CLOSE_WAIT socket, descriptor) pair, in every network namespace.
    virtual std::vector<SocketHolder> close_wait_holders() = 0;
    // The sockets in CLOSE_WAIT in network namespace `netns` (inode), held
    // or not; nullopt when tcpleak cannot look there.
    virtual std::optional<std::vector<std::uint64_t>> close_wait_cookies(std::uint32_t netns) = 0;
    // Who connected or accepted a socket, if the kernel still remembers.
    virtual std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) = 0;
    virtual KernelCounters counters() = 0;
};

// The real kernel: a loaded BpfSession.
class KernelScanner final : public SocketScanner {
public:
    explicit KernelScanner(BpfSession& session) : session_(session) {}

    std::vector<SocketHolder> existing_sockets() override { return session_.seed_existing_sockets(); }
    std::vector<SocketHolder> close_wait_holders() override { return session_.close_wait_holders(); }
    std::optional<std::vector<std::uint64_t>> close_wait_cookies(std::uint32_t netns) override;
    std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) override {
        return session_.remembered_owner(cookie);
    }
    KernelCounters counters() override { return session_.read_counters(); }

private:
    BpfSession& session_;
    NetnsLocator namespaces_;
};

} // namespace tcpleak
