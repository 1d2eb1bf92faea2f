// What `tcpleak trace` prints: NDJSON records (schema version 1, see
// docs/tcpleak-events.schema.json) or an aligned table for people.
#pragma once

#include "tcpleak/core/attribution.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/report_format.hpp" // kEventsSchemaVersion
#include "tcpleak/output/run_info.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace tcpleak {

struct TraceSummary : SummaryBase {
    std::uint64_t events = 0;        // transitions written
    std::uint64_t owner_unknown = 0; // of those, with no known owner
    // With owner filters (-p, -c): transitions not written because no
    // single process owned the socket yet (a shared listener's connection
    // before accept()): they may be another process's.
    std::uint64_t unowned_hidden = 0;
    std::uint64_t owners_evicted = 0; // sockets the attribution table had to forget (full)
    std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> transitions; // (old, new) -> count
};

// Outputs only append to their OutputBuffers and call maybe_flush(); the
// event loop calls flush() (at least every 100 ms). Once a buffer is closed
// (its reader went away) records for it are not even formatted.
class TraceOutput {
public:
    virtual ~TraceOutput() = default;
    virtual void start(const StartInfo& info) = 0;
    virtual void transition(const Transition& t, const Attribution& a, std::int64_t unix_ns) = 0; // hot path
    // count: newly lost since the previous call; total: lost since start.
    virtual void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) = 0;
    virtual void summary(const TraceSummary& summary) = 0;
};

// One JSON object per line on out; the summary is the last line.
std::unique_ptr<TraceOutput> make_json_trace_output(OutputBuffer& out);

// The table on out; the banner, lost-event notes and summary on err.
std::unique_ptr<TraceOutput> make_text_trace_output(OutputBuffer& out, OutputBuffer& err);

// The end-of-run summary for people (several lines, each ending in '\n').
void append_summary_text(std::string& out, const TraceSummary& summary, std::string_view mode);

} // namespace tcpleak
