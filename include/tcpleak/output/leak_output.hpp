// What `tcpleak leaks` prints: NDJSON records (leak, leak_resolved, lost,
// start, summary) or, for people, a table refreshed every --interval.
#pragma once

#include "tcpleak/sys/clock.hpp"
#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/sys/clock.hpp" // Duration
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/tracking.hpp"
#include "tcpleak/output/trace_output.hpp" // StartInfo

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tcpleak {

struct LeakSummary {
    std::int64_t start_unix_ns = 0;
    std::int64_t end_unix_ns = 0;
    Duration threshold{};
    std::uint64_t leaks_reported = 0;  // crossed the threshold during the run
    std::uint64_t leaks_resolved = 0;  // of those, left CLOSE_WAIT before the end
    std::vector<Leak> still_leaked;    // in CLOSE_WAIT at the end, by pid then fd
    std::uint64_t close_wait_seen = 0; // sockets that entered CLOSE_WAIT (or were found there)
    std::uint64_t close_wait_unheld = 0; // past the threshold, held by no descriptor when looked at
    TrackingState tracking;
    KernelCounters kernel;
    std::uint64_t bpf_map_bytes = 0;
};

class LeakOutput {
public:
    virtual ~LeakOutput() = default;
    virtual void start(const StartInfo& info, Duration threshold) = 0;
    virtual void leak(const Leak& leak) = 0;               // crossed the threshold
    virtual void resolved(const LeakResolved& resolved) = 0; // a reported leak left CLOSE_WAIT
    virtual void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) = 0;
    virtual void reconciled(const ReconcileReport& report) = 0;
    // Every --interval: the leaks still in CLOSE_WAIT (text: redraw the table).
    virtual void refresh(const std::vector<Leak>& active, std::uint64_t now_mono_ns) = 0;
    virtual void summary(const LeakSummary& summary) = 0;
};

std::unique_ptr<LeakOutput> make_json_leak_output(OutputBuffer& out, const ClockMapping& clock);
// interactive: out is a terminal (redraw in place) rather than a file or pipe
// (print the table only when it changed, plus a line per leak and resolution).
std::unique_ptr<LeakOutput> make_text_leak_output(OutputBuffer& out, OutputBuffer& err, const ClockMapping& clock,
                                                  bool interactive);

} // namespace tcpleak
