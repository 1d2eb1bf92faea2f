// The leak tracker: its socket table, the event path (transitions and
// descriptor releases), and what it reports. The scan path is in
// leak_scan.cpp.

#include "tcpleak/core/leak_tracker.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>

namespace tcpleak {

namespace {

constexpr std::size_t kKernelCommLen = 15; // TASK_COMM_LEN - 1

SocketAddress address_of(const Transition& t) { return {t.family, t.saddr, t.sport, t.daddr, t.dport, t.netns}; }

std::optional<SocketOwner> owner_of(const Transition& t) {
    if (!t.known_owner_pid)
        return std::nullopt;
    return SocketOwner{*t.known_owner_pid, t.known_owner_comm};
}

} // namespace

bool LeakFilter::matches(std::uint32_t pid, const Comm& c) const {
    if (in_scope && !in_scope(pid))
        return false;
    if (!pids.empty() && std::find(pids.begin(), pids.end(), pid) == pids.end())
        return false;
    // The kernel keeps 15 bytes of a name: compare what it can show.
    if (comm && comm_view(c) != std::string_view(*comm).substr(0, kKernelCommLen))
        return false;
    return true;
}

bool LeakFilter::selects(const Leak& leak) const {
    if (empty())
        return true;
    if (leak.owner_pid && matches(*leak.owner_pid, leak.owner_comm))
        return true;
    if (leak.pid != 0 && matches(leak.pid, leak.comm))
        return true;
    if (leak.closed_by && matches(leak.closed_by->pid, leak.closed_by->comm))
        return true;
    return std::any_of(leak.holders.begin(), leak.holders.end(),
                       [this](const Holder& h) { return matches(h.pid, h.comm); });
}

LeakTracker::LeakTracker(Duration threshold, LeakFilter filter, LeakTrackerPolicy policy)
    : threshold_ns_(nonnegative_ns(threshold)), filter_(std::move(filter)), policy_(policy) {
    sockets_.reserve(1024); // ordinary churn without rehashing; a flood grows it
}

// ---------------------------------------------------------------- storage

LeakTracker::Socket* LeakTracker::find(std::uint64_t cookie) {
    const auto it = sockets_.find(cookie);
    return it == sockets_.end() ? nullptr : &it->second;
}

LeakTracker::Socket& LeakTracker::track(std::uint64_t cookie) {
    Socket& s = sockets_[cookie];
    s.cookie = cookie;
    return s;
}

// Invalidates s.
void LeakTracker::forget(Socket& s) {
    deadlines_.cancel(s.cookie);
    set_unheld(s, false);
    if (scanning_)
        left_during_scan_.insert(s.cookie);
    sockets_.erase(s.cookie);
}

void LeakTracker::set_unheld(Socket& s, bool unheld) {
    if (s.unheld == unheld)
        return;
    s.unheld = unheld;
    unheld_now_ += unheld ? 1 : -1;
}

// ---------------------------------------------------------------- events

std::optional<LeakResolved> LeakTracker::on_transition(const Transition& t) {
    if (t.cookie == 0 || t.old_state == t.new_state || (!watched(t.new_state) && !watched(t.old_state)))
        return std::nullopt;
    Socket* s = find(t.cookie);
    if (s != nullptr && s->state == t.new_state) {
        if (s->seen_by == SeenBy::SocketTable) {
            // A scan found it first (before tcpleak started, or it read the
            // socket before this record was consumed): the exact time wins.
            s->entered_ns = t.mono_ns;
            s->seen_by = SeenBy::Transition;
            s->since_start = false;
            s->history_complete = t.mono_ns > last_loss_noticed_ns_;
            if (s->leak) {
                s->leak->entered_mono_ns = t.mono_ns;
                s->leak->since_start = false;
                s->leak->seen_by = SeenBy::Transition;
            }
            if (s->phase == Phase::Waiting)
                deadlines_.schedule(s->cookie, add_sat(t.mono_ns, threshold_ns_));
            return std::nullopt;
        }
        if (s->phase != Phase::Waiting)
            return std::nullopt; // reported or filtered and still in that state: never twice
        forget(*s); // a second entry: the exit of the first was lost; start over
        s = nullptr;
    }
    if (s != nullptr && became_time_wait(*s, t))
        return held_leak_released(*s, t);
    std::optional<LeakResolved> left;
    std::optional<Socket> carried; // what is known of it goes on into the next watched state
    if (s != nullptr) {
        if (watched(t.new_state)) {
            carried.emplace();
            carried->owner = s->owner;
            carried->release = s->release;
            carried->holders = s->holders;
            carried->history_complete = s->history_complete;
        }
        left = leave(*s, t); // forgets it
    }
    if (watched(t.new_state))
        enter(t, carried ? &*carried : nullptr);
    return left;
}

// FIN_WAIT2 -> CLOSE of a socket no file references: either the end, or
// tcp_time_wait() moving an orphan into a time-wait socket that stays in
// FIN_WAIT2 for tcp_fin_timeout with no event at all. Kept, and the TCP
// tables tell (recheck_time_wait).
bool LeakTracker::became_time_wait(Socket& s, const Transition& t) {
    if (s.state != kTcpFinWait2 || t.new_state != kTcpClose || t.has_file || t.file_released)
        return false;
    s.time_wait = true;
    s.last_held_ns = 0;
    deadlines_.schedule(s.cookie, std::max(add_sat(s.entered_ns, threshold_ns_),
                                           add_sat(t.mono_ns, nonnegative_ns(policy_.time_wait_recheck))));
    return true;
}

// A held leak in FIN_WAIT2 whose last descriptor goes (close, exit):
// tcp_close() orphans the socket before the event (no file left to see) and
// hands it to a time-wait socket in FIN_WAIT2. The leak - a descriptor
// holding it - ended with that release, in the releasing task's context
// when that task is one of its holders; otherwise (tcp_fin_timeout above
// 60 s: a timer ends it later, in softirq) only the state change is known.
// The time-wait socket keeps the cookie: the socket is kept, quietly, until
// the tables no longer have it, so that it is not adopted as a new orphan.
std::optional<LeakResolved> LeakTracker::held_leak_released(Socket& s, const Transition& t) {
    if (s.phase != Phase::Reported || !s.leak || s.leak->verdict == Verdict::Orphaned)
        return std::nullopt;
    const bool by_holder = std::any_of(s.leak->holders.begin(), s.leak->holders.end(),
                                       [&t](const Holder& h) { return h.pid == t.ctx_pid; });
    const ResolvedHow how = !by_holder ? ResolvedHow::StateChange
                            : t.task_exiting ? ResolvedHow::Exit
                                             : ResolvedHow::Close;
    LeakResolved r = resolution(s, how, t.mono_ns);
    if (by_holder) {
        r.by_pid = t.ctx_pid;
        r.by_comm = t.ctx_comm;
    }
    r.to_state = kTcpClose; // the full socket's end; an orphan time-wait socket lives on
    s.phase = Phase::Filtered;
    ++resolved_total_;
    return r;
}

void LeakTracker::enter(const Transition& t, Socket* carried) {
    Socket& fresh = track(t.cookie);
    fresh.state = t.new_state;
    fresh.entered_ns = t.mono_ns;
    fresh.address = address_of(t);
    fresh.rx_queue = t.rx_queue;
    fresh.owner = owner_of(t);
    if (carried != nullptr) {
        if (!fresh.owner)
            fresh.owner = carried->owner;
        fresh.release = carried->release;
        fresh.holders = std::move(carried->holders);
        fresh.history_complete = carried->history_complete;
    }
    deadlines_.schedule(fresh.cookie, add_sat(t.mono_ns, threshold_ns_));
}

std::optional<LeakResolved> LeakTracker::leave(Socket& s, const Transition& t) {
    const std::uint64_t in_state_ns = sub_sat(t.mono_ns, s.entered_ns);

    // Not reported: a late leak if it was past the threshold while held (the
    // last reference is going away now, or a descriptor still holds it): no
    // scan had got to it. Otherwise (the common case) just forget it.
    const bool held = t.file_released || t.has_file;
    if (s.phase == Phase::Filtered || (s.phase == Phase::Waiting && (!held || in_state_ns < threshold_ns_))) {
        forget(s);
        return std::nullopt;
    }

    LeakResolved r;
    // The last reference released in the closing task's context (ctx is the
    // closer); LAST_ACK without it: shutdown(SHUT_WR) by ctx, the descriptor
    // stays open; CLOSE without it: a reset, in softirq (ctx unrelated).
    std::optional<std::uint32_t> closer;
    if (s.state != kTcpCloseWait) {
        // The other closing states end by the peer's doing (an ACK, a FIN),
        // a timer or a reset: where it went is what there is to say.
        r.how = ResolvedHow::StateChange;
        if (t.file_released)
            closer = t.ctx_pid;
    } else if (t.file_released) {
        r.how = t.task_exiting ? ResolvedHow::Exit : ResolvedHow::Close;
        closer = t.ctx_pid;
    } else if (t.new_state == kTcpLastAck) {
        r.how = ResolvedHow::Shutdown;
        closer = t.ctx_pid;
    } else {
        r.how = ResolvedHow::Reset;
    }
    if (closer) {
        r.by_pid = closer;
        r.by_comm = t.ctx_comm;
    }
    r.resolved_mono_ns = t.mono_ns;
    r.in_state_ns = in_state_ns;
    r.to_state = t.new_state;

    if (s.phase == Phase::Reported) {
        r.leak = *s.leak;
        forget(s);
        ++resolved_total_;
        return r;
    }

    if (!s.owner)
        s.owner = owner_of(t);
    VerdictFacts facts;
    facts.holders = &s.holders;
    facts.release = s.release;
    facts.owner = s.owner;
    facts.history_complete = s.history_complete && policy_.releases_watched;
    if (t.file_released) {
        facts.closer = closer;
        facts.closer_exiting = t.task_exiting;
    }
    Leak leak = make_leak(s, decide_verdict(facts));
    leak.holders = s.holders; // descriptors are only known from a scan
    if (closer) {
        leak.pid = *closer;
        leak.comm = t.ctx_comm;
    } else if (s.owner) {
        leak.pid = s.owner->pid;
        leak.comm = s.owner->comm;
    } else if (!leak.holders.empty()) {
        leak.pid = leak.holders.front().pid;
        leak.comm = leak.holders.front().comm;
    }
    if (const Holder* h = first_holder_of(leak.holders, leak.pid))
        leak.fd = h->fd;
    leak.reported_mono_ns = t.mono_ns;
    leak.rx_queue = t.rx_queue;
    forget(s);

    if (!filter_.selects(leak))
        return std::nullopt;
    ++reported_total_;
    ++resolved_total_;
    r.leak = std::move(leak);
    r.newly_reported = true;
    return r;
}

void LeakTracker::on_fd_release(const FdRelease& release) {
    Socket* s = find(release.cookie);
    if (s == nullptr || s->phase != Phase::Waiting)
        return; // unknown, or reported already: a report is a snapshot
    // The earliest release is the close() that did not take effect; later
    // ones (other holders giving up their copies) do not change that.
    if (!s->release || release.mono_ns < s->release->mono_ns)
        s->release = FirstRelease{release.mono_ns, release.pid, release.fd, release.via, release.comm};
}

void LeakTracker::on_events_lost(std::uint64_t noticed_ns) {
    last_loss_noticed_ns_ = std::max(last_loss_noticed_ns_, noticed_ns);
    for (auto& [cookie, s] : sockets_)
        s.history_complete = false;
}

// ---------------------------------------------------------------- results

void LeakTracker::set_cmdline(std::uint64_t cookie, std::string cmdline) {
    if (Socket* s = find(cookie); s != nullptr && s->leak)
        s->leak->cmdline = std::move(cmdline);
}

std::vector<Leak> LeakTracker::active() const {
    std::vector<Leak> leaks;
    for (const auto& [cookie, s] : sockets_)
        if (s.phase == Phase::Reported)
            leaks.push_back(*s.leak);
    std::sort(leaks.begin(), leaks.end(), [](const Leak& a, const Leak& b) {
        return a.reported_mono_ns != b.reported_mono_ns ? a.reported_mono_ns < b.reported_mono_ns
                                                        : a.cookie < b.cookie;
    });
    return leaks;
}

} // namespace tcpleak
