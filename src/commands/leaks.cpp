// tcpleak leaks: name the processes that leave sockets in CLOSE_WAIT.
#include "tcpleak/cli/options.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/output/leak_output.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/session/event_loop.hpp"
#include "tcpleak/session/leak_reports.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"

#include <unistd.h>

namespace tcpleak {

namespace {

// The watch's events, as the output tells them (wall time from the event
// loop's clock).
class LeakPrinter : public LeakEvents {
public:
    LeakPrinter(LeakOutput& output, const ClockMapping& clock) : output_(output), clock_(clock) {}
    void leak(const Leak& leak) override { output_.leak(leak); }
    void resolved(const LeakResolved& resolved) override { output_.resolved(resolved); }
    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) override {
        output_.lost(count, total, clock_.to_unix_ns(mono_ns));
    }
    void reconciled(const ReconcileNotice& notice) override {
        output_.reconciled(reconcile_report(notice, clock_));
    }

private:
    LeakOutput& output_;
    const ClockMapping& clock_;
};

} // namespace

int run_leaks(const LeaksOptions& options) {
    require_bpf_environment("leaks");
    require_processes_exist(options.pids);

    OutputBuffer out(STDOUT_FILENO);
    OutputBuffer err(STDERR_FILENO, 0);
    ClockMapping clock = ClockMapping::current();
    auto output = options.json ? make_json_leak_output(out, clock)
                               : make_text_leak_output(out, err, clock, isatty(STDOUT_FILENO) == 1);

    BpfConfig config;
    config.mode = ForwardMode::LeakTracking; // owner filters apply to holders, in user space
    BpfSession session(config);

    LeakTracker tracker(options.threshold, LeakFilter{options.pids, options.comm});
    Coverage coverage(options.threshold);
    LeakPrinter printer(*output, clock);
    KernelScanner scanner(session);
    LeakWatch watch(scanner, tracker, coverage, printer);
    RingReader reader(session.ring_buffer_fd(), watch);

    // Attached first, then the descriptor tables, then the ring buffer: a
    // socket that enters CLOSE_WAIT meanwhile is in both, and the exact
    // ring-buffer time wins. Leaks older than tcpleak come right after the
    // start record.
    const std::int64_t start_unix_ns = realtime_now_ns();
    output->start({"leaks", start_unix_ns, TCPLEAK_VERSION}, options.threshold);
    watch.start();
    out.flush();
    err.flush();

    const auto exit_status = [&] {
        if (tracker.reported_total() > 0)
            return kExitLeaks;
        return coverage.complete() ? kExitOk : kExitIncomplete;
    };
    const auto interval_ns = static_cast<std::uint64_t>(options.interval.count());
    std::uint64_t next_refresh = monotonic_now_ns();
    run_event_loop(reader, deadline_after(options.duration), [&](std::uint64_t now) {
        watch.tick(now, reader);
        if (now >= next_refresh) {
            output->refresh(tracker.active(), now);
            next_refresh = now + interval_ns;
        }
        out.flush();
        err.flush();
        return !out.closed();
    });
    if (out.closed())
        return exit_status();

    // Everything still attached: what is queued, then the sockets due now;
    // then what those last moments sent, with the tables still readable.
    watch.finish(reader);
    session.detach();
    reader.drain_all();
    watch.finish(reader);

    LeakSummary summary;
    summary.start_unix_ns = start_unix_ns;
    summary.end_unix_ns = realtime_now_ns();
    summary.threshold = options.threshold;
    summary.leaks_reported = tracker.reported_total();
    summary.leaks_resolved = tracker.resolved_total();
    summary.still_leaked = tracker.active();
    summary.close_wait_seen = watch.stats().close_wait_seen;
    summary.close_wait_unheld = tracker.ever_unheld();
    summary.tracking = tracking_state(watch, tracker, coverage);
    summary.kernel = session.read_counters();
    summary.bpf_map_bytes = session.map_memory_bytes();
    if (summary.kernel.lost() > watch.lost_total())
        output->lost(summary.kernel.lost() - watch.lost_total(), summary.kernel.lost(), summary.end_unix_ns);
    output->summary(summary);
    out.flush();
    err.flush();
    return exit_status();
}

} // namespace tcpleak
