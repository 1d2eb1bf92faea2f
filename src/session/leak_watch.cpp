#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/kernel/decode.hpp"

#include "tcpleak/sys/proc.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <unordered_set>

namespace tcpleak {

namespace {
// holder_targets holds this many cookies per descriptor scan.
constexpr std::size_t kCookiesPerScan = 4096;

std::uint64_t cookie_of(const SocketHolder& holder) { return holder.cookie; }
std::uint64_t cookie_of(std::uint64_t cookie) { return cookie; }
} // namespace

LeakWatch::LeakWatch(BpfSession& session, LeakTracker& tracker, LeakEvents& events, Attributor* owners)
    : session_(session), tracker_(tracker), events_(events), owners_(owners) {}

void LeakWatch::adopt_existing_sockets(std::uint64_t now_mono_ns) {
    std::unordered_set<std::uint64_t> in_close_wait;
    for (const SocketHolder& holder : session_.seed_existing_sockets()) {
        if (owners_)
            owners_->on_existing_socket(holder);
        if (holder.state == kTcpCloseWait) {
            tracker_.on_existing_socket(holder, now_mono_ns);
            in_close_wait.insert(holder.cookie);
        }
    }
    close_wait_seen_ += in_close_wait.size();
}

void LeakWatch::confirm_due(std::uint64_t now_mono_ns) {
    if (tracker_.next_deadline() > now_mono_ns)
        return;
    const std::vector<std::uint64_t> due = tracker_.due(now_mono_ns);
    for (std::size_t first = 0; first < due.size(); first += kCookiesPerScan) {
        const auto batch = std::span(due).subspan(first, std::min(kCookiesPerScan, due.size() - first));
        std::vector<SocketHolder> holders = session_.find_holders(batch);
        std::sort(holders.begin(), holders.end(),
                  [](const SocketHolder& a, const SocketHolder& b) { return a.cookie < b.cookie; });
        for (const std::uint64_t cookie : batch) {
            // Each socket gets only its own records: O(records) per batch.
            const auto [first_holder, end_holder] = std::equal_range(
                holders.begin(), holders.end(), cookie,
                [](const auto& a, const auto& b) {
                    return cookie_of(a) < cookie_of(b);
                });
            if (auto leak = tracker_.confirm(cookie, std::span(first_holder, end_holder), now_mono_ns))
                report(*leak);
        }
    }
}

void LeakWatch::report(Leak& leak) {
    leak.cmdline = read_cmdline(leak.pid);
    tracker_.set_cmdline(leak.cookie, leak.cmdline);
    events_.leak(leak);
}

void LeakWatch::on_record(std::span<const std::byte> raw) {
    switch (record_kind(raw).value_or(RecordKind{})) {
    case RecordKind::Transition:
        if (!decode(raw, transition_))
            return;
        if (owners_)
            owners_->attribute(transition_);
        close_wait_seen_ += transition_.new_state == kTcpCloseWait;
        if (auto resolved = tracker_.on_transition(transition_)) {
            if (resolved->newly_reported)
                report(resolved->leak);
            events_.resolved(*resolved);
        }
        return;
    case RecordKind::FdRelease: {
        FdRelease release;
        if (decode(raw, release))
            tracker_.on_fd_release(release);
        return;
    }
    case RecordKind::Accept: {
        Accept accept;
        if (owners_ && decode(raw, accept))
            owners_->on_accept(accept);
        return;
    }
    case RecordKind::Proc: {
        ProcEvent process;
        if (decode(raw, process))
            events_.process(process);
        return;
    }
    default:
        return;
    }
}

} // namespace tcpleak
