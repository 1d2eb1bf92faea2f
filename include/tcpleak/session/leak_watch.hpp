// Drives a LeakTracker from the kernel, shared by `tcpleak leaks` and
// `tcpleak run`: ring-buffer records in (the watch), scans of the kernel's
// socket tables (the relist), leaks, resolutions and what tcpleak could not
// see out.
//
// A scan reads every (CLOSE_WAIT socket, descriptor) pair, then drains the
// ring buffer behind it, then hands both to the tracker: sockets past the
// threshold are confirmed with their holders, sockets the events never
// announced are adopted. Scans run when sockets are due, at once after lost
// events (a reconciliation: it also resolves tracked sockets the kernel's
// TCP table no longer has), and periodically; ScanSchedule keeps their cost
// a bounded share of a core.
#pragma once

#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/scan_schedule.hpp"
#include "tcpleak/kernel/ring_reader.hpp"
#include "tcpleak/session/leak_details.hpp"
#include "tcpleak/session/socket_scanner.hpp"

#include <cstdint>
#include <functional>

namespace tcpleak {

struct LeakWatchStats {
    std::uint64_t close_wait_seen = 0; // sockets that entered CLOSE_WAIT or were found there
    std::uint64_t scans = 0;
    std::uint64_t scan_busy_ns = 0;    // wall time spent in scans
    std::uint64_t last_scan_ns = 0;    // the last one's
    std::uint64_t reconciliations = 0; // scans after lost events
    std::uint64_t vanished = 0;
};

class LeakWatch;
class LeakOutput;
class CommandSession;
// The summary `leaks` and the agent end with: the session's part
// (CommandSession::fill), the tracker's and the watch's, and first a loss
// not told yet; then flushed.
void write_leak_summary(CommandSession& session, LeakOutput& output, Duration threshold, const LeakTracker& tracker,
                        const LeakWatch& watch);

class LeakWatch : public RecordSink {
public:
    using Clock = std::function<std::uint64_t()>; // CLOCK_MONOTONIC ns; injected for tests

    // details_from: where a report's details (peer, TCP record) are read
    // when scanner sees only some processes (run's tree); null: scanner.
    LeakWatch(SocketScanner& scanner, LeakTracker& tracker, Coverage& coverage, LeakEvents& events,
              ScanPolicy policy = {}, Clock clock = {}, SocketScanner* details_from = nullptr);

    // Sockets already in CLOSE_WAIT, from the descriptor tables. Call once,
    // after attaching, before the ring buffer is read.
    void start();
    // Every turn of the event loop: lost events noticed (the kernel's counters
    // at most every 100 ms), and a scan when one is due and allowed.
    void tick(std::uint64_t now_mono_ns, EventSource& source);
    // The stop path, everything still attached: a last scan for what is due.
    void finish(EventSource& source);

    void on_record(std::span<const std::byte> raw) override;

    const LeakWatchStats& stats() const { return stats_; }
    // What it could not see, for the summary or report.
    TrackingState tracking_state() const;
    std::uint64_t lost_total() const { return lost_seen_; }

private:
    void check_losses(std::uint64_t now_ns);
    void scan(EventSource& source);
    // The TCP tables a scan needs (states other than CLOSE_WAIT watched):
    // of every namespace (all), or of those with sockets due.
    std::optional<TcpTables> read_tables(std::uint64_t now_ns, bool all);
    void find_vanished(std::uint64_t read_ns);
    void report_all(std::vector<Leak>& leaks, std::span<const SocketHolder> holders);
    void report(LeakResolved& resolved);
    void report_late(std::span<const SocketHolder> holders);

    SocketScanner& scanner_;
    LeakDetails details_;
    bool own_details_holders_; // details_ reads its own holders (another scanner)
    LeakTracker& tracker_;
    Coverage& coverage_;
    LeakEvents& events_;
    ScanSchedule schedule_;
    Clock clock_;
    Transition transition_; // reused: no allocation per record
    LeakWatchStats stats_;

    std::uint64_t last_check_ns_ = 0; // of the kernel's counters
    std::uint64_t lost_seen_ = 0;     // ring buffer losses already told
    std::uint64_t missed_seen_ = 0;   // lost + program runs skipped, already counted in a gap
    std::uint64_t bounds_seen_ = 0;   // selected_full + pids_full already told
    std::vector<LeakResolved> late_;  // late leaks waiting for their details (report_late)
    std::uint64_t late_since_ns_ = 0; // when the first of them came
};

} // namespace tcpleak
