#include "tcpleak/core/leak_tracker.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <limits>

namespace tcpleak {

namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kKernelCommLen = 15; // TASK_COMM_LEN - 1

std::uint64_t add_sat(std::uint64_t a, std::uint64_t b) { return b > kNever - a ? kNever : a + b; }

SocketAddress address_of(const Transition& t) { return {t.family, t.saddr, t.sport, t.daddr, t.dport, t.netns}; }

SocketAddress address_of(const SocketHolder& h) { return {h.family, h.saddr, h.sport, h.daddr, h.dport, h.netns}; }

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
// holding it - ended with that release, in the releasing task's context; the
// kernel reaps what is left after tcp_fin_timeout.
std::optional<LeakResolved> LeakTracker::held_leak_released(Socket& s, const Transition& t) {
    if (s.phase != Phase::Reported || !s.leak || s.leak->verdict == Verdict::Orphaned)
        return std::nullopt;
    LeakResolved r = resolution(s, t.task_exiting ? ResolvedHow::Exit : ResolvedHow::Close, t.mono_ns);
    r.by_pid = t.ctx_pid;
    r.by_comm = t.ctx_comm;
    r.to_state = kTcpFinWait2; // an orphan now, in the time-wait socket's substate
    forget(s);
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

// ---------------------------------------------------------------- scans

void LeakTracker::begin_scan() {
    scanning_ = true;
    left_during_scan_.clear();
}

LeakTracker::Socket& LeakTracker::adopt(const SocketHolder& first, std::uint64_t now_ns, bool at_start,
                                        const OwnerLookup& owner_lookup) {
    Socket& s = track(first.cookie);
    s.state = first.state;
    s.seen_by = SeenBy::SocketTable;
    s.since_start = at_start;
    s.history_complete = false;
    // The kernel's read time minus a lower bound of the age: the entry is
    // put at the latest it can have been, so ages are never overstated.
    const std::uint64_t read_ns = first.read_mono_ns != 0 ? first.read_mono_ns : now_ns;
    s.entered_ns = read_ns - std::min(first.close_wait_age_ns.value_or(0), read_ns);
    s.address = address_of(first);
    s.rx_queue = first.rx_queue;
    if (at_start)
        s.owner = SocketOwner{first.pid, first.comm}; // its first holder, as ss -p would say
    else if (owner_lookup)
        s.owner = owner_lookup(first.cookie);
    ++adopted_total_;
    deadlines_.schedule(s.cookie, add_sat(s.entered_ns, threshold_ns_));
    return s;
}

// Orphans in a watched state the events never announced (there before
// tcpleak started, or their entry was lost): adopted from the TCP tables,
// entered at the latest they can have (the tables give no age).
void LeakTracker::adopt_orphans(const TcpTables& tables, std::uint64_t now_ns, bool at_start, ScanResult& result) {
    for (const auto& [cookie, socket] : tables.sockets) {
        const bool orphan = socket.orphan || (socket.time_wait && socket.state == kTcpFinWait2);
        if (cookie == 0 || !orphan || socket.request || socket.state == kTcpCloseWait || !watched(socket.state) ||
            find(cookie) != nullptr || left_during_scan_.contains(cookie))
            continue;
        Socket& s = track(cookie);
        s.state = socket.state;
        s.seen_by = SeenBy::SocketTable;
        s.since_start = at_start;
        s.history_complete = false;
        s.time_wait = socket.time_wait;
        s.entered_ns = socket.read_mono_ns != 0 ? socket.read_mono_ns : now_ns;
        s.address = {socket.family, socket.saddr, socket.sport, socket.daddr, socket.dport, socket.netns};
        s.rx_queue = socket.rx_queue;
        ++adopted_total_;
        ++result.adopted;
        deadlines_.schedule(cookie, add_sat(s.entered_ns, threshold_ns_));
    }
}

ScanResult LeakTracker::on_scan(std::span<const SocketHolder> holders_read, std::uint64_t now_ns, bool at_start,
                                const OwnerLookup& owner_lookup, const TcpTables* tables) {
    ScanResult result;
    std::vector<const SocketHolder*> records;
    records.reserve(holders_read.size());
    for (const SocketHolder& h : holders_read)
        if (h.cookie != 0 && watched(h.state))
            records.push_back(&h);
    std::sort(records.begin(), records.end(),
              [](const SocketHolder* a, const SocketHolder* b) { return a->cookie < b->cookie; });

    for (std::size_t first = 0; first < records.size();) {
        const std::uint64_t cookie = records[first]->cookie;
        std::size_t end = first;
        std::vector<Holder> holders;
        for (; end < records.size() && records[end]->cookie == cookie; ++end)
            holders.push_back({records[end]->pid, records[end]->comm, records[end]->fd});
        const SocketHolder& sample = *records[first];
        first = end;
        if (left_during_scan_.contains(cookie))
            continue; // read just before it left: its exit has been handled
        Socket* s = find(cookie);
        if (s == nullptr) {
            s = &adopt(sample, now_ns, at_start, owner_lookup);
            ++result.adopted;
        } else if (s->state != sample.state) {
            continue; // moved on since: the records saying so are on their way
        }
        normalize_holders(holders);
        s->holders = holders;
        s->last_held_ns = now_ns;
        set_unheld(*s, false);
        if (s->phase != Phase::Waiting || sub_sat(now_ns, s->entered_ns) < threshold_ns_)
            continue;
        if (!s->owner && owner_lookup) // accepted after it entered its state, say
            s->owner = owner_lookup(cookie);
        const TcpSocket* tcp = tables != nullptr ? tables->find(cookie) : nullptr;
        if (auto leak = confirm(*s, std::move(holders), sample.rx_queue, now_ns, tcp))
            result.leaks.push_back(std::move(*leak));
    }
    if (tables != nullptr)
        adopt_orphans(*tables, now_ns, at_start, result);
    // Due and not found held: orphans of the closing states are reported;
    // CLOSE_WAIT is looked at again later, for as long as it stays.
    for (const std::uint64_t cookie : deadlines_.due(now_ns))
        if (Socket* s = find(cookie); s != nullptr)
            look_at_unheld(*s, now_ns, tables, result);

    scanning_ = false;
    left_during_scan_.clear();
    result.unheld = unheld_now_;
    return result;
}

void LeakTracker::look_at_unheld(Socket& s, std::uint64_t now_ns, const TcpTables* tables, ScanResult& result) {
    const bool table_read = tables != nullptr && tables->namespaces.contains(s.address.netns);
    if (s.time_wait && table_read) {
        recheck_time_wait(s, now_ns, *tables, result);
        return;
    }
    if (s.phase != Phase::Waiting)
        return;
    if (s.state == kTcpCloseWait || !table_read) {
        retry_unheld(s, now_ns);
        return;
    }
    const TcpSocket* tcp = tables->find(s.cookie);
    if (tcp == nullptr || tcp->state != s.state || !tcp->orphan) {
        retry_unheld(s, now_ns); // gone, moved on or held after all: its records say which
        return;
    }
    if (sub_sat(now_ns, s.entered_ns) < threshold_ns_) {
        deadlines_.schedule(s.cookie, add_sat(s.entered_ns, threshold_ns_));
        return;
    }
    if (auto leak = confirm(s, {}, tcp->rx_queue, now_ns, tcp))
        result.leaks.push_back(std::move(*leak));
}

// A FIN_WAIT2 orphan that became a time-wait socket: still in FIN_WAIT2
// while the tables have it with that substate (reported once past the
// threshold); gone (reaped after tcp_fin_timeout) or in TIME_WAIT otherwise.
void LeakTracker::recheck_time_wait(Socket& s, std::uint64_t now_ns, const TcpTables& tables, ScanResult& result) {
    const TcpSocket* tcp = tables.find(s.cookie);
    if (tcp != nullptr && tcp->time_wait && tcp->state == kTcpFinWait2) {
        if (s.phase == Phase::Waiting && sub_sat(now_ns, s.entered_ns) >= threshold_ns_) {
            if (auto leak = confirm(s, {}, 0, now_ns, tcp))
                result.leaks.push_back(std::move(*leak));
        }
        deadlines_.schedule(s.cookie, add_sat(now_ns, nonnegative_ns(policy_.time_wait_recheck)));
        return;
    }
    if (s.phase == Phase::Reported) {
        LeakResolved r = resolution(s, ResolvedHow::StateChange, now_ns);
        if (tcp != nullptr && tcp->time_wait)
            r.to_state = kTcpTimeWait; // gone from the tables: no state to go to (nullopt)
        ++resolved_total_;
        result.resolved.push_back(std::move(r));
    }
    forget(s);
}

LeakResolved LeakTracker::resolution(const Socket& s, ResolvedHow how, std::uint64_t now_ns) const {
    LeakResolved r;
    r.leak = *s.leak;
    r.how = how;
    r.resolved_mono_ns = now_ns;
    r.in_state_ns = sub_sat(now_ns, s.entered_ns);
    return r;
}

std::optional<Leak> LeakTracker::confirm(Socket& s, std::vector<Holder> holders, std::uint32_t rx_queue,
                                         std::uint64_t now_ns, const TcpSocket* tcp) {
    VerdictFacts facts;
    facts.holders = &holders;
    facts.holders_known = true;
    facts.release = s.release;
    facts.owner = s.owner;
    facts.history_complete = s.history_complete && policy_.releases_watched;
    const bool orphaned = holders.empty();
    Leak leak = make_leak(s, orphaned ? VerdictResult{Verdict::Orphaned, std::nullopt} : decide_verdict(facts));
    if (orphaned) {
        // No descriptor to blame: the process that had it, when known.
        if (s.owner) {
            leak.pid = s.owner->pid;
            leak.comm = s.owner->comm;
        }
    } else {
        // The owner when it still holds it (its lowest descriptor), else the
        // first holder.
        const Holder* owner_holder = s.owner ? first_holder_of(holders, s.owner->pid) : nullptr;
        const Holder& responsible = owner_holder != nullptr ? *owner_holder : holders.front();
        leak.pid = responsible.pid;
        leak.comm = responsible.comm;
        leak.fd = responsible.fd;
    }
    leak.holders = std::move(holders);
    leak.reported_mono_ns = now_ns;
    leak.rx_queue = rx_queue;
    if (tcp != nullptr)
        leak.tcp = *tcp;

    if (!s.time_wait)
        deadlines_.cancel(s.cookie);
    if (!filter_.selects(leak)) {
        s.phase = Phase::Filtered; // kept quietly until it leaves its state
        return std::nullopt;
    }
    s.phase = Phase::Reported;
    s.leak = std::make_unique<Leak>(leak);
    ++reported_total_;
    return leak;
}

void LeakTracker::retry_unheld(Socket& s, std::uint64_t now_ns) {
    if (!s.unheld && s.state == kTcpCloseWait) { // CLOSE_WAIT held by nobody (the others may be orphans)
        set_unheld(s, true);
        if (s.unheld_checks == 0)
            ++ever_unheld_;
    }
    const std::uint64_t first = nonnegative_ns(policy_.unheld_retry);
    const std::uint64_t most = std::max(first, nonnegative_ns(policy_.max_unheld_retry));
    const unsigned doublings = std::min<unsigned>(s.unheld_checks, 20);
    const std::uint64_t delay = std::min(most, first << doublings);
    if (s.unheld_checks < std::numeric_limits<std::uint8_t>::max())
        ++s.unheld_checks;
    deadlines_.schedule(s.cookie, add_sat(now_ns, delay));
}

std::vector<LeakResolved> LeakTracker::on_vanished(std::span<const std::uint64_t> cookies, std::uint64_t now_ns) {
    std::vector<LeakResolved> resolved;
    for (const std::uint64_t cookie : cookies) {
        Socket* s = find(cookie);
        if (s == nullptr)
            continue;
        if (s->phase == Phase::Reported) {
            ++resolved_total_;
            resolved.push_back(resolution(*s, ResolvedHow::Unknown, now_ns));
        }
        forget(*s);
    }
    return resolved;
}

std::vector<std::uint32_t> LeakTracker::due_namespaces(std::uint64_t now_ns) const {
    std::unordered_set<std::uint32_t> namespaces;
    for (const std::uint64_t cookie : deadlines_.due(now_ns))
        if (const auto it = sockets_.find(cookie); it != sockets_.end())
            namespaces.insert(it->second.address.netns);
    return {namespaces.begin(), namespaces.end()};
}

std::vector<LeakTracker::Unseen> LeakTracker::unseen_since(std::uint64_t since_ns) const {
    std::vector<Unseen> unseen;
    for (const auto& [cookie, s] : sockets_)
        if (s.last_held_ns < since_ns)
            unseen.push_back({cookie, s.address.netns, s.state});
    return unseen;
}

Leak LeakTracker::make_leak(const Socket& s, const VerdictResult& verdict) const {
    Leak leak;
    leak.cookie = s.cookie;
    leak.address = s.address;
    leak.state = s.state;
    if (s.owner) {
        leak.owner_pid = s.owner->pid;
        leak.owner_comm = s.owner->comm;
    }
    leak.verdict = verdict.verdict;
    leak.closed_by = verdict.closed_by;
    leak.entered_mono_ns = s.entered_ns;
    leak.since_start = s.since_start;
    leak.seen_by = s.seen_by;
    return leak;
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
