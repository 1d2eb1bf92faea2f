// The loaded and attached BPF side: one object per run, RAII all the way.
#pragma once

#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/verdict.hpp" // SocketOwner
#include "tcpleak/core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct tcpleak_bpf; // generated skeleton

namespace tcpleak {

enum class ForwardMode : std::uint8_t {
    AllTransitions, // trace: every transition that passes the filters
    LeakTracking,   // leaks/run: CLOSE_WAIT (with its owner), descriptor releases
};

struct BpfConfig {
    ForwardMode mode = ForwardMode::AllTransitions;
    std::vector<std::uint32_t> pids;  // owners to select; empty = all
    bool follow_forks = false;        // run: children of selected pids are selected too
    std::optional<std::string> comm;  // owner comm to select
    std::vector<std::uint16_t> ports; // local or remote; empty = all
    std::uint8_t family = 0;          // 0, AF_INET or AF_INET6
    std::uint32_t print_states = 0;   // bit per state, old or new; 0 = all
    std::uint32_t timing_states = 0;  // also sent, to time the printed ones (context only)
    // leaks/run: the states whose entries and exits are forwarded (bit per
    // state): CLOSE_WAIT, and the closing states leaks --state watches.
    std::uint32_t watch_states = 1U << 8; // TCP_CLOSE_WAIT
    std::size_t ring_bytes = 16u << 20;
    // false: no state-change hook either, only the iterators (a census
    // reads the tables and needs no event: top).
    bool transitions = true;
    // false: no accept/close/dup syscall hooks. While a syscall tracepoint
    // is attached every syscall of every process pays for it (~40-60 ns,
    // docs/performance.md); without them owners come from the kernel's
    // tables and a close() that left the socket alive is not seen.
    bool syscall_hooks = true;

    bool selects_owners() const { return !pids.empty() || follow_forks || comm.has_value(); }
    // trace attributes every transition in user space (it sees them all);
    // leaks and run get a socket's owner from the kernel, with its entry
    // into CLOSE_WAIT (owners LRU), and need no record per connection.
    bool tracks_owners() const { return mode == ForwardMode::AllTransitions; }
    bool kernel_owners() const { return mode == ForwardMode::LeakTracking; }
    bool watches_releases() const { return mode == ForwardMode::LeakTracking; }
};

// Loads, configures and attaches tcpleak.bpf.c. Throws UserError with a
// one-line explanation when the kernel refuses.
class BpfSession {
public:
    explicit BpfSession(const BpfConfig& config);
    ~BpfSession();
    BpfSession(const BpfSession&) = delete;
    BpfSession& operator=(const BpfSession&) = delete;

    int ring_buffer_fd() const;
    void select_pid(std::uint32_t pid); // run: the traced command
    KernelCounters read_counters() const;
    // LeakTracking mode: transitions per (old, new) state, counted in the kernel.
    std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> read_transition_counts() const;
    std::uint64_t map_memory_bytes() const; // fixed at load: what the kernel charged for all maps

    // Descriptor-table scans (iter/task_file): every process, every
    // network namespace.
    // Every (socket, fd) pair, for the owners of sockets older than tcpleak;
    // with owner filters, also selects the sockets of selected holders.
    std::vector<SocketHolder> seed_existing_sockets();
    // Every (socket, fd) pair with the socket in one of `states` (bit per state).
    std::vector<SocketHolder> holders_in_states(std::uint32_t states);
    std::vector<SocketHolder> close_wait_holders() { return holders_in_states(1U << 8); }
    // The TCP table (iter/tcp) of one network namespace: netns_fd (from
    // /proc/PID/ns/net), or this process's own when -1; only sockets in
    // `states` (bit per state; 0: all).
    std::vector<TcpSocket> tcp_table(std::uint32_t states, int netns_fd = -1);
    // A TCP-table walk that returns nothing: it gives every socket of the
    // namespace a cookie, which a later descriptor walk needs to name it
    // (the kernel does not let the descriptor walk create one).
    void name_sockets(int netns_fd = -1);
    // Who connected or accepted the socket, as the kernel's owners LRU
    // (leaks/run) still remembers; nullopt when it does not.
    std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) const;
    // Whether exec() releases (O_CLOEXEC descriptors) are seen: the kernel
    // has sched_prepare_exec (6.10+).
    bool sees_exec_releases() const { return sees_exec_releases_; }

    // Stops new events; what is in the ring buffer stays readable, and the
    // descriptor-table scans keep working.
    void detach();

private:
    std::vector<SocketHolder> read_descriptor_tables(std::uint8_t mode, std::uint32_t states = 0);

    struct SkeletonDeleter {
        void operator()(tcpleak_bpf* skeleton) const;
    };
    std::unique_ptr<tcpleak_bpf, SkeletonDeleter> skeleton_;
    std::uint64_t map_memory_bytes_ = 0;
    bool attached_ = false;
    bool sees_exec_releases_ = false;
};

// libbpf's log: silent unless verbose (1: warnings, 2: everything).
void route_libbpf_log(int verbose);

} // namespace tcpleak
