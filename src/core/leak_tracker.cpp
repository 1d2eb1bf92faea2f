#include "tcpleak/core/leak_tracker.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <limits>

namespace tcpleak {

std::string_view verdict_name(Verdict v) {
    switch (v) {
    case Verdict::NeverClosed: return "never_closed";
    case Verdict::ClosedStillReferenced: return "closed_still_referenced";
    }
    return "unknown";
}

std::string_view verdict_label(Verdict v) {
    switch (v) {
    case Verdict::NeverClosed: return "never closed";
    case Verdict::ClosedStillReferenced: return "closed, still referenced";
    }
    return "unknown";
}

std::string_view resolved_how_name(ResolvedHow how) {
    switch (how) {
    case ResolvedHow::Close: return "close";
    case ResolvedHow::Shutdown: return "shutdown";
    case ResolvedHow::Exit: return "exit";
    case ResolvedHow::Reset: return "reset";
    }
    return "unknown";
}

namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kKernelCommLen = 15; // TASK_COMM_LEN - 1

std::uint64_t add_sat(std::uint64_t a, std::uint64_t b) { return b > kNever - a ? kNever : a + b; }
std::uint64_t sub_sat(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

// Sorted by pid then fd, one entry per (pid, fd).
void normalize(std::vector<Holder>& holders) {
    std::stable_sort(holders.begin(), holders.end(), [](const Holder& a, const Holder& b) {
        return a.pid != b.pid ? a.pid < b.pid : a.fd < b.fd;
    });
    holders.erase(std::unique(holders.begin(), holders.end(),
                              [](const Holder& a, const Holder& b) { return a.pid == b.pid && a.fd == b.fd; }),
                  holders.end());
}

// The lowest descriptor of pid among sorted holders.
const Holder* first_of(const std::vector<Holder>& holders, std::uint32_t pid) {
    const auto it = std::find_if(holders.begin(), holders.end(), [pid](const Holder& h) { return h.pid == pid; });
    return it == holders.end() ? nullptr : &*it;
}

// Owners learned where the owner itself held a descriptor of the socket: if
// it no longer does and no release was seen, its descriptor went away without
// a close() (exit or exec). A Listener owner never held this socket.
bool owner_held_it(OwnerVia via) {
    return via == OwnerVia::Connect || via == OwnerVia::Accept || via == OwnerVia::FdTable;
}

SocketAddress address_of(const Transition& t) {
    return {t.family, t.saddr, t.sport, t.daddr, t.dport, t.netns};
}

SocketAddress address_of(const SocketHolder& h) {
    return {h.family, h.saddr, h.sport, h.daddr, h.dport, h.netns};
}

} // namespace

bool LeakFilter::matches(std::uint32_t pid, const Comm& c) const {
    if (!pids.empty() && std::find(pids.begin(), pids.end(), pid) == pids.end())
        return false;
    // The kernel keeps 15 bytes of a name: compare what it can show.
    if (comm && comm_view(c) != std::string_view(*comm).substr(0, kKernelCommLen))
        return false;
    return true;
}

LeakTracker::LeakTracker(Duration threshold, LeakFilter filter, LeakTrackerLimits limits)
    : threshold_ns_(threshold.count() > 0 ? static_cast<std::uint64_t>(threshold.count()) : 0),
      filter_(std::move(filter)), limits_(limits) {
    // Enough for ordinary churn without rehashing; a flood grows it, up to
    // max_tracked.
    sockets_.reserve(std::min<std::size_t>(limits_.max_tracked, 1024));
}

// ---------------------------------------------------------------- storage

LeakTracker::Socket* LeakTracker::find(std::uint64_t cookie) {
    const auto it = sockets_.find(cookie);
    return it == sockets_.end() ? nullptr : &it->second;
}

// The socket, a new one if it is not tracked (`created`), or nullptr when a
// new one would pass max_tracked.
LeakTracker::Socket* LeakTracker::track(std::uint64_t cookie, bool& created) {
    created = false;
    if (cookie == 0)
        return nullptr; // not a socket cookie
    if (Socket* s = find(cookie))
        return s;
    if (sockets_.size() >= limits_.max_tracked) {
        ++evictions_;
        return nullptr;
    }
    created = true;
    Socket& s = sockets_[cookie];
    s.cookie = cookie;
    return &s;
}

// Invalidates s.
void LeakTracker::forget(Socket& s) {
    unschedule(s);
    sockets_.erase(s.cookie);
}

// ---------------------------------------------------------------- schedule

void LeakTracker::schedule(Socket& s, std::uint64_t due_ns) {
    unschedule(s);
    s.due_ns = due_ns;
    if (queue_.empty() || due_ns >= queue_.back().due_ns) {
        s.ticket = next_ticket_++;
        queue_.push_back({due_ns, s.cookie, s.ticket});
    } else {
        late_.emplace(due_ns, s.cookie);
        s.in_late = true;
    }
}

void LeakTracker::unschedule(Socket& s) {
    if (s.in_late) {
        late_.erase({s.due_ns, s.cookie});
        s.in_late = false;
    }
    s.ticket = 0; // its entry in queue_, if any, is dead
}

bool LeakTracker::live(const Scheduled& entry) const {
    const auto it = sockets_.find(entry.cookie);
    return it != sockets_.end() && it->second.ticket == entry.ticket;
}

// Drops dead entries from the front (so next_deadline() is the front), and
// compacts the queue when dead entries stuck behind a long-waiting one
// outnumber the live sockets: its size stays O(tracked()).
void LeakTracker::tidy() {
    while (!queue_.empty() && !live(queue_.front()))
        queue_.pop_front();
    if (queue_.size() > 2 * sockets_.size() + 1024)
        std::erase_if(queue_, [this](const Scheduled& entry) { return !live(entry); });
}

void LeakTracker::remember(LeakResolved resolved) {
    history_.push_back(std::move(resolved));
    while (history_.size() > limits_.max_history) {
        history_.pop_front();
        ++evictions_;
    }
}

bool LeakTracker::leak_selected(const Leak& leak) const {
    if (filter_.empty())
        return true;
    if (leak.owner_pid && filter_.matches(*leak.owner_pid, leak.owner_comm))
        return true;
    if (leak.pid != 0 && filter_.matches(leak.pid, leak.comm))
        return true;
    return std::any_of(leak.holders.begin(), leak.holders.end(),
                       [this](const Holder& h) { return filter_.matches(h.pid, h.comm); });
}

// ---------------------------------------------------------------- records

namespace {

template <typename S>
void take_owner(S& s, const Transition& t) {
    if (!t.owner_known)
        return;
    s.owner_known = true;
    s.owner_via = t.owner_via;
    s.owner_pid = t.owner_pid;
    s.owner_comm = t.owner_comm;
}

// A socket older than tcpleak: its first holder in the descriptor tables
// is its owner (as the Attributor decides).
template <typename S>
void take_owner(S& s, const SocketHolder& h) {
    if (s.owner_known)
        return;
    s.owner_known = true;
    s.owner_via = OwnerVia::FdTable;
    s.owner_pid = h.pid;
    s.owner_comm = h.comm;
}

ClosedBy closed_by_owner_exit(std::uint32_t pid, const Comm& comm) {
    return ClosedBy{pid, comm, std::nullopt, ReleaseVia::Exit};
}

// Who made the socket "closed, still referenced", from the first release
// seen; none when that release was the exit of a process that still holds
// the socket itself (a dup): a process going away is not a close that
// failed to take effect.
template <typename R>
std::optional<ClosedBy> closed_by_release(const std::optional<R>& release, bool releaser_still_holds) {
    if (!release || (release->via == ReleaseVia::Exit && releaser_still_holds))
        return std::nullopt;
    return ClosedBy{release->pid, release->comm, release->fd, release->via};
}

} // namespace

std::optional<LeakResolved> LeakTracker::on_transition(const Transition& t) {
    const bool into = t.new_state == kTcpCloseWait && t.old_state != kTcpCloseWait;
    const bool out = t.old_state == kTcpCloseWait && t.new_state != kTcpCloseWait;

    if (out) {
        Socket* s = find(t.cookie);
        if (!s)
            return std::nullopt;
        auto resolved = leave(*s, t);
        tidy();
        return resolved;
    }
    if (into) {
        bool created = false;
        Socket* s = track(t.cookie, created);
        if (s && !created && !s->since_start && s->phase != Phase::Waiting)
            s = nullptr; // reported or filtered and still in CLOSE_WAIT: never twice
        if (s) {
            // New socket; or the exact time replacing a start-up estimate; or
            // (defensively) a second entry whose exit was lost: restart.
            s->entered_ns = t.mono_ns;
            s->since_start = false;
            s->unheld = 0;
            s->address = address_of(t);
            s->rx_queue = t.rx_queue;
            take_owner(*s, t);
            if (s->leak) {
                s->leak->entered_mono_ns = t.mono_ns;
                s->leak->since_start = false;
            }
            if (s->phase == Phase::Waiting)
                schedule(*s, add_sat(t.mono_ns, threshold_ns_));
        }
        tidy();
    }
    return std::nullopt;
}

std::optional<LeakResolved> LeakTracker::leave(Socket& s, const Transition& t) {
    const std::uint64_t close_wait_ns = sub_sat(t.mono_ns, s.entered_ns);

    // Not reported: a late leak if it was past the threshold while held (the
    // last reference is going away now, or a descriptor still holds it): the
    // loop had not got to it. Otherwise (the common case) just forget it.
    const bool held = t.file_released || t.has_file;
    if (s.phase == Phase::Filtered ||
        (s.phase == Phase::Waiting && (!held || close_wait_ns < threshold_ns_))) {
        forget(s);
        return std::nullopt;
    }

    LeakResolved r;
    // The last reference released in the closing task's context (ctx is the
    // closer); LAST_ACK without it: shutdown(SHUT_WR) by ctx, the descriptor
    // stays open; CLOSE without it: a reset, in softirq (ctx unrelated).
    std::optional<std::uint32_t> closer;
    if (t.file_released) {
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
    r.close_wait_ns = close_wait_ns;

    if (s.phase == Phase::Reported) {
        r.leak = *s.leak;
        forget(s);
        remember(r);
        return r;
    }

    take_owner(s, t);
    Leak leak;
    leak.cookie = s.cookie;
    leak.address = s.address;
    leak.holders = s.start_holders; // descriptors are only known from a scan
    normalize(leak.holders);
    if (s.owner_known) {
        leak.owner_pid = s.owner_pid;
        leak.owner_comm = s.owner_comm;
    }
    if (closer) {
        leak.pid = *closer;
        leak.comm = t.ctx_comm;
    } else if (s.owner_known) {
        leak.pid = s.owner_pid;
        leak.comm = s.owner_comm;
    } else if (!leak.holders.empty()) {
        leak.pid = leak.holders.front().pid;
        leak.comm = leak.holders.front().comm;
    }
    if (const Holder* h = first_of(leak.holders, leak.pid))
        leak.fd = h->fd;

    // An exiting process releases its descriptors one by one: the closer
    // held the last reference when it released the others.
    const bool closer_released = s.release && t.task_exiting && closer && s.release->pid == *closer;
    if (auto by = closed_by_release(s.release, closer_released)) {
        leak.verdict = Verdict::ClosedStillReferenced;
        leak.closed_by = std::move(by);
    } else if (t.file_released && s.owner_known && owner_held_it(s.owner_via) && s.owner_pid != *closer) {
        // Someone else held the last reference: the owner's descriptor went
        // away without a close() we saw.
        leak.verdict = Verdict::ClosedStillReferenced;
        leak.closed_by = closed_by_owner_exit(s.owner_pid, s.owner_comm);
    }
    leak.entered_mono_ns = s.entered_ns;
    leak.reported_mono_ns = t.mono_ns;
    leak.rx_queue = t.rx_queue;
    leak.since_start = s.since_start;
    forget(s);

    if (!leak_selected(leak))
        return std::nullopt;
    ++reported_total_;
    r.leak = std::move(leak);
    r.newly_reported = true;
    remember(r);
    return r;
}

void LeakTracker::on_fd_release(const FdRelease& release) {
    Socket* s = find(release.cookie);
    if (!s || s->phase != Phase::Waiting)
        return; // unknown, or reported already: a report is a snapshot
    // The earliest release is the close() that did not take effect; later
    // ones (other holders giving up their copies) do not change that.
    if (!s->release || release.mono_ns < s->release->mono_ns)
        s->release = Release{release.mono_ns, release.pid, release.fd, release.via, release.comm};
}

void LeakTracker::on_existing_socket(const SocketHolder& holder, std::uint64_t now_mono_ns) {
    if (holder.state != kTcpCloseWait)
        return;
    bool created = false;
    Socket* found = track(holder.cookie, created);
    if (!found)
        return;
    Socket& s = *found;
    if (created) {
        s.since_start = true;
        s.entered_ns = now_mono_ns - std::min(holder.close_wait_age_ns.value_or(0), now_mono_ns);
        s.address = address_of(holder);
        s.rx_queue = holder.rx_queue;
        schedule(s, add_sat(s.entered_ns, threshold_ns_));
    }
    take_owner(s, holder);
    const Holder h{holder.pid, holder.comm, holder.fd};
    if (std::none_of(s.start_holders.begin(), s.start_holders.end(),
                     [&](const Holder& o) { return o.pid == h.pid && o.fd == h.fd; }))
        s.start_holders.push_back(h);
    tidy();
}

// ---------------------------------------------------------------- time

std::uint64_t LeakTracker::next_deadline() const {
    std::uint64_t deadline = late_.empty() ? kNever : late_.begin()->first;
    for (const Scheduled& entry : queue_) { // the front is live after tidy()
        if (entry.due_ns >= deadline)
            break;
        if (live(entry)) {
            deadline = entry.due_ns;
            break;
        }
    }
    return deadline;
}

std::vector<std::uint64_t> LeakTracker::due(std::uint64_t now_mono_ns) const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> found; // (due, cookie)
    for (const Scheduled& entry : queue_) {
        if (entry.due_ns > now_mono_ns)
            break;
        if (live(entry))
            found.emplace_back(entry.due_ns, entry.cookie);
    }
    const std::size_t from_queue = found.size();
    for (const auto& entry : late_) {
        if (entry.first > now_mono_ns)
            break;
        found.push_back(entry);
    }
    if (from_queue != 0 && from_queue != found.size())
        std::inplace_merge(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(from_queue), found.end());
    std::vector<std::uint64_t> cookies;
    cookies.reserve(found.size());
    for (const auto& entry : found)
        cookies.push_back(entry.second);
    return cookies;
}

std::optional<Leak> LeakTracker::confirm(std::uint64_t cookie, std::span<const SocketHolder> holders,
                                         std::uint64_t now_mono_ns) {
    Socket* found = find(cookie);
    if (!found)
        return std::nullopt;
    Socket& s = *found;
    if (s.phase != Phase::Waiting || sub_sat(now_mono_ns, s.entered_ns) < threshold_ns_)
        return std::nullopt;

    Leak leak;
    const SocketHolder* first = nullptr;
    for (const SocketHolder& h : holders) {
        // A record in another state: the socket has left CLOSE_WAIT and its
        // transition is on its way; that transition decides.
        if (h.cookie != cookie || h.state != kTcpCloseWait)
            continue;
        if (!first)
            first = &h;
        leak.holders.push_back({h.pid, h.comm, h.fd});
    }

    if (leak.holders.empty()) {
        // Not held right now: a close racing the scan, a descriptor in flight
        // over a unix socket, or never accept()ed. Look again a bit later;
        // give up after a few tries.
        if (++s.unheld >= limits_.max_unheld_confirms) {
            forget(s);
            ++dropped_unheld_;
        } else {
            const auto retry = static_cast<std::uint64_t>(std::max<std::int64_t>(0, limits_.unheld_retry.count()));
            schedule(s, add_sat(now_mono_ns, retry));
        }
        tidy();
        return std::nullopt;
    }
    normalize(leak.holders);

    leak.cookie = cookie;
    leak.address = s.address;
    const Holder* owner_holder = nullptr;
    if (s.owner_known) {
        leak.owner_pid = s.owner_pid;
        leak.owner_comm = s.owner_comm;
        owner_holder = first_of(leak.holders, s.owner_pid);
    }
    // The owner when it still holds it (its lowest descriptor), else the
    // first holder.
    const Holder& responsible = owner_holder ? *owner_holder : leak.holders.front();
    leak.pid = responsible.pid;
    leak.comm = responsible.comm;
    leak.fd = responsible.fd;

    // A scan between a process's exit walk and the closing of its files
    // still finds the releaser holding the socket.
    const bool releaser_holds = s.release && first_of(leak.holders, s.release->pid) != nullptr;
    if (auto by = closed_by_release(s.release, releaser_holds)) {
        leak.verdict = Verdict::ClosedStillReferenced;
        leak.closed_by = std::move(by);
    } else if (s.owner_known && !owner_holder && owner_held_it(s.owner_via)) {
        leak.verdict = Verdict::ClosedStillReferenced;
        leak.closed_by = closed_by_owner_exit(s.owner_pid, s.owner_comm);
    }
    leak.entered_mono_ns = s.entered_ns;
    leak.reported_mono_ns = now_mono_ns;
    leak.rx_queue = first->rx_queue;
    leak.since_start = s.since_start;

    unschedule(s);
    if (!leak_selected(leak)) {
        s.phase = Phase::Filtered; // kept quietly until it leaves CLOSE_WAIT
        tidy();
        return std::nullopt;
    }
    s.phase = Phase::Reported;
    s.leak = std::make_unique<Leak>(leak);
    s.start_holders = {};
    ++reported_total_;
    tidy();
    return leak;
}

void LeakTracker::set_cmdline(std::uint64_t cookie, std::string cmdline) {
    if (Socket* s = find(cookie); s && s->leak) {
        s->leak->cmdline = std::move(cmdline);
        return;
    }
    // A leak reported as it left CLOSE_WAIT: the newest resolution.
    for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
        if (it->leak.cookie == cookie) {
            it->leak.cmdline = std::move(cmdline);
            return;
        }
    }
}

// ---------------------------------------------------------------- results

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

std::vector<Leak> LeakTracker::reported() const {
    std::vector<Leak> leaks;
    leaks.reserve(history_.size());
    for (const LeakResolved& r : history_)
        leaks.push_back(r.leak);
    std::vector<Leak> still = active();
    leaks.insert(leaks.end(), std::make_move_iterator(still.begin()), std::make_move_iterator(still.end()));
    return leaks;
}

} // namespace tcpleak
