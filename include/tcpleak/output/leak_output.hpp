// What `tcpleak leaks` prints: NDJSON records (leak, leak_resolved, lost,
// start, summary) or, for people, a table refreshed every --interval.
#pragma once

#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/run_info.hpp"
#include "tcpleak/sys/clock.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tcpleak {

struct LeakSummary : SummaryBase {
    Duration threshold{};
    std::uint64_t leaks_reported = 0;  // crossed the threshold during the run
    std::uint64_t leaks_resolved = 0;  // of those, left CLOSE_WAIT before the end
    std::vector<Leak> still_leaked;    // in CLOSE_WAIT at the end, by pid then fd
    std::uint64_t close_wait_seen = 0; // sockets that entered CLOSE_WAIT (or were found there)
    std::uint64_t close_wait_unheld = 0; // past the threshold, held by no descriptor when looked at
    TrackingState tracking;
};

// The leak watch's events (core/leak_events.hpp) as `tcpleak leaks`
// prints them, framed by a start record, table refreshes and a summary.
class LeakOutput : public LeakEvents {
public:
    // states: watched, a bit per state (leaks --state).
    virtual void start(const StartInfo& info, Duration threshold, std::uint32_t states = 1U << kTcpCloseWait) = 0;
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
