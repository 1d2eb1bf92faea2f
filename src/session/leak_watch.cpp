#include "tcpleak/session/leak_watch.hpp"

#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/output/leak_output.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/proc.hpp"

#include <map>
#include <unordered_map>
#include <unordered_set>

namespace tcpleak {

namespace {

// FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, CLOSE_WAIT (a bit per state).
constexpr std::uint32_t kClosingStates = (1U << kTcpFinWait1) | (1U << kTcpFinWait2) | (1U << kTcpLastAck) |
                                         (1U << kTcpClosing) | (1U << kTcpCloseWait);

// The kernel's counters are read this often: the in-stream "lost" record
// follows a loss within this, and so does the reconciliation scan.
constexpr std::uint64_t kCountersEveryNs = 100'000'000;
// Leaks found as they end (no scan got to them: a late leak) wait this long
// for their details, which the next scan reads for all of them at once -
// within the scans' share of a core. One read per leak would turn a stream
// of them on a loaded machine into a scan per event.
constexpr std::uint64_t kLateLeaksEveryNs = 500'000'000;

// A leak report names the process's command line; a mass leak of one
// process reads it once.
const std::string& cached_cmdline(std::unordered_map<std::uint32_t, std::string>& cache, std::uint32_t pid) {
    auto [it, fresh] = cache.try_emplace(pid);
    if (fresh)
        it->second = read_cmdline(pid);
    return it->second;
}

// Events that never reached user space: records the ring buffer had no room
// for, and program runs the kernel skipped (a program already running on
// that CPU).
std::uint64_t missed(const KernelCounters& counters) { return counters.lost() + counters.recursion_misses; }

// Bounds of the kernel side that drop events of selected sockets or
// processes for good (run's tree, -p): no scan can make up for them.
std::uint64_t bounds_hit(const KernelCounters& counters) {
    return counters[TL_CNT_SELECTED_FULL] + counters[TL_CNT_PIDS_FULL];
}

} // namespace

LeakWatch::LeakWatch(SocketScanner& scanner, LeakTracker& tracker, Coverage& coverage, LeakEvents& events,
                     ScanPolicy policy, Clock clock, SocketScanner* details_from)
    : scanner_(scanner), details_(details_from != nullptr ? *details_from : scanner),
      own_details_holders_(details_from != nullptr), tracker_(tracker), coverage_(coverage), events_(events), schedule_(policy),
      clock_(clock ? std::move(clock) : Clock(monotonic_now_ns)) {}

TrackingState LeakWatch::tracking_state() const {
    TrackingState state;
    state.complete = coverage_.complete();
    state.incomplete_reasons = coverage_.incomplete_reasons();
    state.reconciliations = stats_.reconciliations;
    state.found_by_scan = tracker_.adopted_total();
    state.scans = stats_.scans;
    state.scan_busy_ns = stats_.scan_busy_ns;
    return state;
}

// The kernel's counters start at zero with the BPF object, so nothing is
// read here: a loss during this first scan (tcpleak stalled in it, say) is
// one like any other.
void LeakWatch::start() {
    const std::uint64_t began = clock_();
    last_check_ns_ = began;
    tracker_.begin_scan();
    const std::vector<SocketHolder> sockets = scanner_.existing_sockets();
    std::optional<TcpTables> tables = read_tables(began, true);
    const std::uint64_t read = clock_(); // after the read: ages from it are lower bounds
    ScanResult result = tracker_.on_scan(sockets, read, true, {}, tables ? &*tables : nullptr);
    stats_.close_wait_seen += result.adopted;
    report_all(result.leaks, sockets);
    schedule_.ran(began, read);
}

void LeakWatch::tick(std::uint64_t now_mono_ns, EventSource& source) {
    if (now_mono_ns - last_check_ns_ >= kCountersEveryNs)
        check_losses(now_mono_ns);
    const bool due = tracker_.next_deadline() <= now_mono_ns ||
                     (!late_.empty() && now_mono_ns - late_since_ns_ >= kLateLeaksEveryNs);
    if (schedule_.should_scan(now_mono_ns, due, coverage_.reconcile_needed()))
        scan(source);
}

void LeakWatch::finish(EventSource& source) {
    source.drain();
    const std::uint64_t now = clock_();
    check_losses(now);
    if (tracker_.next_deadline() <= now || coverage_.reconcile_needed() || !late_.empty())
        scan(source);
}

// A loss opens a gap from the last check that found none: the tracker marks
// what it holds as no longer fully watched, and the next tick reconciles.
void LeakWatch::check_losses(std::uint64_t now_ns) {
    const KernelCounters counters = scanner_.counters();
    if (counters.lost() > lost_seen_) {
        events_.lost(counters.lost() - lost_seen_, counters.lost(), now_ns);
        lost_seen_ = counters.lost();
    }
    if (const std::uint64_t now_missed = missed(counters); now_missed > missed_seen_) {
        coverage_.on_loss(last_check_ns_, now_ns, now_missed - missed_seen_);
        tracker_.on_events_lost(now_ns);
        missed_seen_ = now_missed;
    }
    if (const std::uint64_t bounds = bounds_hit(counters); bounds > bounds_seen_) {
        coverage_.on_unreconcilable("a map of the kernel side was full (selected_full, pids_full): events of "
                                    "selected sockets or processes were not produced");
        bounds_seen_ = bounds;
    }
    last_check_ns_ = now_ns;
}

void LeakWatch::scan(EventSource& source) {
    const bool reconciling = coverage_.reconcile_needed();
    const std::uint64_t began = clock_();
    tracker_.begin_scan();
    // The closing states besides the watched ones: where a report's peer
    // usually is (a CLOSE_WAIT leak's client waits in FIN_WAIT2).
    const std::vector<SocketHolder> holders = scanner_.holders_in_states(tracker_.states() | kClosingStates);
    std::optional<TcpTables> tables = read_tables(began, reconciling);
    source.drain(); // what happened before and during the read
    const std::uint64_t read = clock_();
    ScanResult result = tracker_.on_scan(
        holders, read, false, [this](std::uint64_t cookie) { return scanner_.remembered_owner(cookie); },
        tables ? &*tables : nullptr);
    stats_.close_wait_seen += result.adopted;
    for (LeakResolved& resolved : result.resolved)
        report(resolved);
    report_late(holders); // older than what this scan found
    report_all(result.leaks, holders);

    if (reconciling) {
        const Reconciliation reconciliation = coverage_.on_reconciled(began);
        const std::uint64_t vanished_before = stats_.vanished;
        find_vanished(read);
        ReconcileNotice notice;
        notice.mono_ns = read;
        notice.found = result.adopted;
        notice.vanished = stats_.vanished - vanished_before;
        notice.covered = reconciliation.covered;
        notice.gap_start_ns = reconciliation.gaps.empty() ? began : reconciliation.gaps.front().start_ns;
        for (const LossGap& gap : reconciliation.gaps)
            notice.events_lost += gap.events;
        ++stats_.reconciliations;
        events_.reconciled(notice);
    }
    // Its cost includes the reports' details and the reconciliation: the
    // schedule keeps all of it a bounded share of a core.
    const std::uint64_t ended = std::max(clock_(), read);
    schedule_.ran(began, ended);
    ++stats_.scans;
    stats_.last_scan_ns = ended - began;
    stats_.scan_busy_ns += stats_.last_scan_ns;
}

// After lost events: tracked sockets no descriptor holds any more may have
// left CLOSE_WAIT unseen. The TCP table of their network namespace says.
void LeakWatch::find_vanished(std::uint64_t read_ns) {
    std::map<std::uint32_t, std::vector<LeakTracker::Unseen>> by_netns;
    for (const LeakTracker::Unseen& unseen : tracker_.unseen_since(read_ns))
        by_netns[unseen.netns].push_back(unseen);
    for (const auto& [netns, candidates] : by_netns) {
        const auto table = scanner_.tcp_table(netns, tracker_.states());
        if (!table)
            continue; // cannot look there: leave them as they are
        std::unordered_map<std::uint64_t, std::uint8_t> still; // cookie -> state
        for (const TcpSocket& socket : *table)
            still.emplace(socket.cookie, socket.state);
        std::vector<std::uint64_t> gone;
        for (const LeakTracker::Unseen& unseen : candidates)
            if (const auto it = still.find(unseen.cookie); it == still.end() || it->second != unseen.state)
                gone.push_back(unseen.cookie);
        stats_.vanished += gone.size();
        for (LeakResolved resolved : tracker_.on_vanished(gone, read_ns))
            report(resolved);
    }
}

// A scan may report thousands of leaks of a few processes (a mass leak):
// each process's command line is read once, and the kernel's counters are
// still read every 100 ms, so a loss meanwhile is noticed when it happens.
std::optional<TcpTables> LeakWatch::read_tables(std::uint64_t now_ns, bool all) {
    if (!tracker_.needs_tables())
        return std::nullopt;
    TcpTables tables;
    const std::vector<std::uint32_t> namespaces = all ? scanner_.namespaces() : tracker_.due_namespaces(now_ns);
    for (const std::uint32_t netns : namespaces)
        if (auto table = scanner_.tcp_table(netns, tracker_.states()))
            tables.add(netns, *table);
    return tables;
}

void write_leak_summary(CommandSession& session, LeakOutput& output, Duration threshold, const LeakTracker& tracker,
                        const LeakWatch& watch) {
    LeakSummary summary;
    session.fill(summary);
    summary.threshold = threshold;
    summary.leaks_reported = tracker.reported_total();
    summary.leaks_resolved = tracker.resolved_total();
    summary.still_leaked = tracker.active();
    summary.close_wait_seen = watch.stats().close_wait_seen;
    summary.close_wait_unheld = tracker.ever_unheld();
    summary.tracking = watch.tracking_state();
    if (const std::uint64_t late = CommandSession::untold_lost(summary, watch.lost_total()))
        output.lost(late, summary.kernel.lost(), monotonic_now_ns());
    output.summary(summary);
    session.flush();
}

void LeakWatch::report_all(std::vector<Leak>& leaks, std::span<const SocketHolder> holders) {
    details_.fill(leaks, own_details_holders_ ? std::span<const SocketHolder>{} : holders);
    std::unordered_map<std::uint32_t, std::string> cmdlines;
    for (Leak& leak : leaks) {
        leak.cmdline = cached_cmdline(cmdlines, leak.pid);
        tracker_.set_cmdline(leak.cookie, leak.cmdline);
        events_.leak(leak);
        if (const std::uint64_t now = clock_(); now - last_check_ns_ >= kCountersEveryNs)
            check_losses(now);
    }
}

void LeakWatch::report(LeakResolved& resolved) {
    if (!resolved.newly_reported) {
        events_.resolved(resolved);
        return;
    }
    if (late_.empty())
        late_since_ns_ = clock_();
    // Now: the process may exit before the details come.
    resolved.leak.cmdline = read_cmdline(resolved.leak.pid);
    late_.push_back(std::move(resolved));
}

// The late leaks, each told as a leak and at once its resolution (its
// record's times are the kernel's, not the time of this batch).
void LeakWatch::report_late(std::span<const SocketHolder> holders) {
    if (late_.empty())
        return;
    std::vector<Leak> leaks;
    leaks.reserve(late_.size());
    for (const LeakResolved& resolved : late_)
        leaks.push_back(resolved.leak);
    details_.fill(leaks, own_details_holders_ ? std::span<const SocketHolder>{} : holders);
    for (std::size_t i = 0; i < late_.size(); ++i) {
        late_[i].leak = std::move(leaks[i]);
        events_.leak(late_[i].leak);
        events_.resolved(late_[i]);
    }
    late_.clear();
}

void LeakWatch::on_record(std::span<const std::byte> raw) {
    switch (record_kind(raw).value_or(RecordKind{})) {
    case RecordKind::Transition:
        if (!decode(raw, transition_))
            return;
        stats_.close_wait_seen += transition_.new_state == kTcpCloseWait;
        if (auto resolved = tracker_.on_transition(transition_))
            report(*resolved);
        return;
    case RecordKind::FdRelease: {
        FdRelease release;
        if (decode(raw, release))
            tracker_.on_fd_release(release);
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
