// The leak tracker's scan path: the kernel's socket and descriptor tables
// read by a scan confirm the leaks that are due, adopt the sockets no event
// announced, and resolve the ones gone unseen (docs/design.md, "The
// kernel's socket tables as the source of truth").

#include "tcpleak/core/leak_tracker.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>

namespace tcpleak {

namespace {

SocketAddress address_of(const SocketHolder& h) { return {h.family, h.saddr, h.sport, h.daddr, h.dport, h.netns}; }

} // namespace

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

} // namespace tcpleak
