// What the leak watch reads from the kernel besides the ring buffer: the
// descriptor tables, the TCP tables, the TCP sysctls of a namespace, the
// owners the kernel remembers, its counters. An interface, so the watch is
// unit-tested with a fake kernel.
#pragma once

#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/verdict.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/netns.hpp"
#include "tcpleak/sys/sysctl.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace tcpleak {

class SocketScanner {
public:
    virtual ~SocketScanner() = default;
    // Every (socket, descriptor) pair, in every network namespace (start-up).
    virtual std::vector<SocketHolder> existing_sockets() = 0;
    // Every (socket, descriptor) pair with the socket in `states` (a bit
    // per state), in every network namespace.
    virtual std::vector<SocketHolder> holders_in_states(std::uint32_t states) = 0;
    // The sockets of network namespace `netns` (inode) in `states` (0: all),
    // held or not, time-wait and requests included; nullopt when tcpleak
    // cannot look there.
    virtual std::optional<std::vector<TcpSocket>> tcp_table(std::uint32_t netns, std::uint32_t states) = 0;
    // Every network namespace tcpleak can look into (its own first).
    virtual std::vector<std::uint32_t> namespaces() = 0;
    // The TCP sysctls of network namespace `netns`; nullopt when it cannot
    // be entered.
    virtual std::optional<TcpSysctls> tcp_sysctls(std::uint32_t netns) = 0;
    // Who connected or accepted a socket, if the kernel still remembers.
    virtual std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) = 0;
    virtual KernelCounters counters() = 0;
};

// Gives every socket of every namespace tcpleak can enter its cookie, so
// that the descriptor walk that follows sees the sockets older than tcpleak.
void name_every_socket(BpfSession& session, NetnsLocator& namespaces);

// The real kernel: a loaded BpfSession.
class KernelScanner final : public SocketScanner {
public:
    explicit KernelScanner(BpfSession& session) : session_(session) {}

    std::vector<SocketHolder> existing_sockets() override;
    std::vector<SocketHolder> holders_in_states(std::uint32_t states) override {
        return session_.holders_in_states(states);
    }
    std::optional<std::vector<TcpSocket>> tcp_table(std::uint32_t netns, std::uint32_t states) override;
    std::vector<std::uint32_t> namespaces() override { return namespaces_.discover(); }
    std::optional<TcpSysctls> tcp_sysctls(std::uint32_t netns) override;
    std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) override {
        return session_.remembered_owner(cookie);
    }
    KernelCounters counters() override { return session_.read_counters(); }

private:
    BpfSession& session_;
    NetnsLocator namespaces_;
};

} // namespace tcpleak
