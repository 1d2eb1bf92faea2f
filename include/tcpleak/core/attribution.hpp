// Ties every transition to the process that owns the socket.
//
// Most state changes run in softirq, on whatever task is on the CPU, so the
// task the kernel reports (ctx_pid) is not the owner. The kernel keeps no
// per-socket state (it would slow the connection path down); it marks the
// moments it runs in the owner's context (connect, listen), reports
// accept() results, and the descriptor tables name the holders of sockets
// older than tcpleak. The Attributor remembers those, by socket cookie, and
// fills in every later transition. It never guesses from ctx_pid.
#pragma once

#include "tcpleak/core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>
#include <utility>

namespace tcpleak {

struct Owner {
    std::uint32_t pid = 0;
    Comm comm{};
    std::uint64_t cgroup = 0;
    OwnerVia via = OwnerVia::None;
};

// What the Attributor says of one transition; the transition itself stays
// the record the kernel sent.
struct Attribution {
    std::optional<Owner> owner;                // nullopt: not known (never a guess)
    std::optional<std::uint64_t> old_state_ns; // time spent in the old state, when seen entering it
};

class Attributor {
public:
    // At most this many sockets are remembered; past it the oldest entries
    // go first (evictions() counts them). Sockets are forgotten when they
    // reach CLOSE, so only a flood of open sockets or lost records fills it.
    static constexpr std::size_t kDefaultCapacity = 1u << 20;

    explicit Attributor(std::size_t capacity = kDefaultCapacity);

    // t's owner and the time it spent in its old state; learns what t tells
    // (an owner's context, a listener), and forgets the socket once it is
    // closed.
    Attribution attribute(const Transition& t);
    // accept() makes its caller the owner, whoever owned the listener.
    void on_accept(const Accept& accept);
    // Start-up: a socket's first holder in the descriptor tables is its owner.
    void on_existing_socket(const SocketHolder& holder);

    std::size_t size() const { return sockets_.size(); }
    std::uint64_t evictions() const { return evictions_; }

private:
    struct Entry {
        Owner owner;
        std::uint64_t since_ns = 0; // when the current state began; 0: unknown
        std::uint64_t order = 0;    // its place in order_
    };
    struct ListenerKey {
        std::uint32_t netns;
        std::uint8_t family;
        std::uint16_t port;
        friend bool operator==(const ListenerKey&, const ListenerKey&) = default;
    };
    struct ListenerKeyHash {
        std::size_t operator()(const ListenerKey& k) const {
            return std::hash<std::uint64_t>()(std::uint64_t{k.netns} << 24 | std::uint64_t{k.family} << 16 | k.port);
        }
    };

    // Every listening socket on a (netns, family, port): several with
    // SO_REUSEPORT or different bound addresses.
    struct Listener {
        std::uint64_t cookie;
        Owner owner;
    };
    using Listeners = std::vector<Listener>;

    Entry& entry(std::uint64_t cookie);
    void forget(std::uint64_t cookie);
    void bound_size();
    void add_listener(const ListenerKey& key, std::uint64_t cookie, const Owner& owner);
    void remove_listener(const ListenerKey& key, std::uint64_t cookie);
    // The owner of a connection a listener on key received, when only one
    // process listens there; nullptr otherwise (accept() will tell).
    const Owner* listener_owner(const ListenerKey& key) const;

    std::size_t capacity_;
    std::unordered_map<std::uint64_t, Entry> sockets_;
    std::unordered_map<ListenerKey, Listeners, ListenerKeyHash> listeners_;
    // Cookies in the order they were first seen, for evicting the oldest;
    // entries of forgotten sockets are skipped (their order no longer matches).
    std::deque<std::pair<std::uint64_t, std::uint64_t>> order_; // (order, cookie)
    std::uint64_t next_order_ = 1;
    std::uint64_t evictions_ = 0;
};

} // namespace tcpleak
