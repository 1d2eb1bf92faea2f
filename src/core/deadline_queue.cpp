#include "tcpleak/core/deadline_queue.hpp"

#include <algorithm>
#include <iterator>

namespace tcpleak {

bool DeadlineQueue::live(const Slot& slot) const {
    const auto it = entries_.find(slot.cookie);
    return it != entries_.end() && it->second.ticket == slot.ticket;
}

void DeadlineQueue::remove(std::uint64_t cookie) {
    const auto it = entries_.find(cookie);
    if (it == entries_.end())
        return;
    if (it->second.ticket == 0)
        late_.erase({it->second.due_ns, cookie});
    entries_.erase(it); // a FIFO slot of it is now stale
}

// Stale slots leave the front at once (so the front is the FIFO's next
// deadline), and the whole FIFO is compacted when stale slots stuck behind a
// long wait outnumber the live ones: its size stays O(size()).
void DeadlineQueue::tidy() {
    while (!fifo_.empty() && !live(fifo_.front()))
        fifo_.pop_front();
    if (fifo_.size() > 2 * entries_.size() + 1024)
        std::erase_if(fifo_, [this](const Slot& slot) { return !live(slot); });
}

void DeadlineQueue::schedule(std::uint64_t cookie, std::uint64_t due_ns) {
    remove(cookie);
    Entry entry{due_ns, 0};
    if (fifo_.empty() || due_ns >= fifo_.back().due_ns) {
        entry.ticket = next_ticket_++;
        fifo_.push_back({due_ns, cookie, entry.ticket});
    } else {
        late_.emplace(due_ns, cookie);
    }
    entries_[cookie] = entry;
    tidy();
}

void DeadlineQueue::cancel(std::uint64_t cookie) {
    remove(cookie);
    tidy();
}

std::uint64_t DeadlineQueue::next() const {
    const std::uint64_t late = late_.empty() ? kNever : late_.begin()->first;
    // The front is live after tidy(), unless the FIFO is empty.
    const std::uint64_t fifo = fifo_.empty() ? kNever : fifo_.front().due_ns;
    return std::min(late, fifo);
}

std::vector<std::uint64_t> DeadlineQueue::due(std::uint64_t now_ns) const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> found; // (due, cookie)
    for (const Slot& slot : fifo_) {
        if (slot.due_ns > now_ns)
            break;
        if (live(slot))
            found.emplace_back(slot.due_ns, slot.cookie);
    }
    const std::size_t from_fifo = found.size();
    for (const auto& entry : late_) {
        if (entry.first > now_ns)
            break;
        found.push_back(entry);
    }
    std::inplace_merge(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(from_fifo), found.end());
    std::vector<std::uint64_t> cookies;
    cookies.reserve(found.size());
    for (const auto& entry : found)
        cookies.push_back(entry.second);
    return cookies;
}

} // namespace tcpleak
