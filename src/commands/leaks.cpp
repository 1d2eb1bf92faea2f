// tcpleak leaks: name the processes that leave sockets in CLOSE_WAIT.
#include "tcpleak/agent/workload_events.hpp"
#include "tcpleak/agent/workload_identifier.hpp"
#include "tcpleak/cli/options.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/output/leak_output.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"

#include <unistd.h>

namespace tcpleak {

int run_leaks(const LeaksOptions& options) {
    CommandSession session("leaks");
    require_processes_exist(options.pids);

    const ClockMapping clock = ClockMapping::current();
    auto output = options.json ? make_json_leak_output(session.out(), clock)
                               : make_text_leak_output(session.out(), session.err(), clock,
                                                       isatty(STDOUT_FILENO) == 1);

    BpfConfig config;
    config.mode = ForwardMode::LeakTracking; // owner filters apply to holders, in user space
    config.watch_states = options.states;
    session.load(config);

    LeakTrackerPolicy policy;
    policy.states = options.states;
    LeakTracker tracker(options.threshold, LeakFilter{options.pids, options.comm, {}}, policy);
    Coverage coverage(options.threshold);
    KernelScanner scanner(session.bpf());
    // NDJSON records carry each leak's container and pod (the text does not show them).
    WorkloadIdentifier identifier(kDefaultPodsDir);
    WorkloadLeakEvents identified(identifier, *output);
    LeakWatch watch(scanner, tracker, coverage, options.json ? static_cast<LeakEvents&>(identified) : *output);
    session.read_into(watch);

    // Attached first, then the descriptor tables, then the ring buffer: a
    // socket that enters CLOSE_WAIT meanwhile is in both, and the exact
    // ring-buffer time wins. Leaks older than tcpleak come right after the
    // start record.
    output->start(session.started(), options.threshold, options.states);
    watch.start();

    const auto exit_status = [&] {
        if (tracker.reported_total() > 0)
            return kExitLeaks;
        return coverage.complete() ? kExitOk : kExitIncomplete;
    };
    const auto interval_ns = static_cast<std::uint64_t>(options.interval.count());
    std::uint64_t next_refresh = monotonic_now_ns();
    session.loop(deadline_after(options.duration), [&](std::uint64_t now, EventSource& source) {
        watch.tick(now, source);
        if (now >= next_refresh) {
            output->refresh(tracker.active(), now);
            next_refresh = now + interval_ns;
        }
        return true;
    });
    if (session.output_gone())
        return exit_status();

    session.stop([&](EventSource& source) { watch.finish(source); });
    write_leak_summary(session, *output, options.threshold, tracker, watch);
    return exit_status();
}

} // namespace tcpleak
