// tcpleak leaks: name the processes that leave sockets in CLOSE_WAIT.
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/session/event_loop.hpp"
#include "tcpleak/output/leak_output.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/output/output_buffer.hpp"

#include <unistd.h>

namespace tcpleak {

namespace {

class LeakPrinter : public LeakEvents {
public:
    explicit LeakPrinter(LeakOutput& output) : output_(output) {}
    void leak(const Leak& leak) override { output_.leak(leak); }
    void resolved(const LeakResolved& resolved) override { output_.resolved(resolved); }

private:
    LeakOutput& output_;
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
    LeakPrinter printer(*output);
    LeakWatch watch(session, tracker, printer, nullptr); // holders and releases tell it all
    RingReader reader(session.ring_buffer_fd(), watch);
    LostEvents lost(session);

    // Attached first, then the descriptor tables, then the ring buffer: a
    // socket that enters CLOSE_WAIT meanwhile is in both, and the exact
    // ring-buffer time wins.
    watch.adopt_existing_sockets(monotonic_now_ns());
    const std::int64_t start_unix_ns = realtime_now_ns();
    output->start({"leaks", start_unix_ns, TCPLEAK_VERSION}, options.threshold);
    out.flush();
    err.flush();

    const auto interval_ns = static_cast<std::uint64_t>(options.interval.count());
    std::uint64_t next_refresh = monotonic_now_ns();
    run_event_loop(reader, deadline_after(options.duration), [&](std::uint64_t now) {
        if (const std::uint64_t fresh = lost.poll(now))
            output->lost(fresh, lost.total(), realtime_now_ns());
        watch.confirm_due(now);
        if (now >= next_refresh) {
            output->refresh(tracker.active(), now);
            next_refresh = now + interval_ns;
        }
        out.flush();
        err.flush();
        return !out.closed();
    });
    if (out.closed())
        return tracker.reported_total() > 0 ? kExitLeaks : kExitOk;

    // Everything still attached: what is queued, then the holders of the
    // sockets due now; then what those last moments sent.
    reader.drain();
    watch.confirm_due(monotonic_now_ns());
    session.detach();
    reader.drain();
    watch.confirm_due(monotonic_now_ns());

    LeakSummary summary;
    summary.start_unix_ns = start_unix_ns;
    summary.end_unix_ns = realtime_now_ns();
    summary.threshold = options.threshold;
    summary.leaks_reported = tracker.reported_total();
    summary.leaks_resolved = tracker.resolved().size();
    summary.still_leaked = tracker.active();
    summary.close_wait_seen = watch.close_wait_seen();
    summary.tracker_evictions = tracker.evictions();
    summary.close_wait_unheld = tracker.dropped_unheld();
    summary.owners_evicted = watch.owners_evicted();
    summary.kernel = session.read_counters();
    summary.bpf_map_bytes = session.map_memory_bytes();
    if (summary.kernel.lost() > lost.total())
        output->lost(summary.kernel.lost() - lost.total(), summary.kernel.lost(), summary.end_unix_ns);
    output->summary(summary);
    out.flush();
    err.flush();
    return summary.leaks_reported > 0 ? kExitLeaks : kExitOk;
}

} // namespace tcpleak
