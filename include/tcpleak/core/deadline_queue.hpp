// Cookies by the time they are due: what the leak tracker waits on (sockets
// crossing the threshold, unheld sockets to look at again).
//
// Sockets enter CLOSE_WAIT in time order and every one is due a fixed
// threshold later, so most deadlines arrive in order: those go to a FIFO
// with lazy deletion (a rescheduled or cancelled cookie just makes its old
// entry stale; stale entries are dropped from the front, and compacted away
// when they outnumber the live ones): O(1) per socket. The rest (start-up
// estimates, retries, records slightly out of order) go to an ordered set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tcpleak {

class DeadlineQueue {
public:
    static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

    // Due at due_ns from now on; replaces an earlier schedule of cookie.
    void schedule(std::uint64_t cookie, std::uint64_t due_ns);
    void cancel(std::uint64_t cookie);
    bool scheduled(std::uint64_t cookie) const { return entries_.contains(cookie); }

    // The earliest deadline (may be past); kNever when nothing is scheduled.
    std::uint64_t next() const;
    // Cookies due at now_ns, earliest first (they stay scheduled).
    std::vector<std::uint64_t> due(std::uint64_t now_ns) const;

    std::size_t size() const { return entries_.size(); }
    std::size_t slots() const { return fifo_.size() + late_.size(); } // stale FIFO slots included (tests)

private:
    struct Entry {
        std::uint64_t due_ns = 0;
        std::uint64_t ticket = 0; // of its FIFO slot; 0 when it is in late_
    };
    struct Slot {
        std::uint64_t due_ns = 0;
        std::uint64_t cookie = 0;
        std::uint64_t ticket = 0;
    };

    bool live(const Slot& slot) const;
    void remove(std::uint64_t cookie);
    void tidy();

    std::unordered_map<std::uint64_t, Entry> entries_;
    std::deque<Slot> fifo_;                                  // non-decreasing due_ns
    std::set<std::pair<std::uint64_t, std::uint64_t>> late_; // (due_ns, cookie)
    std::uint64_t next_ticket_ = 1;                          // 0 is no ticket
};

} // namespace tcpleak
