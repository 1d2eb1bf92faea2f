// What `tcpleak top` writes: a start record, one census per interval (a
// table for people, redrawn in place on a terminal, or an NDJSON `census`
// record) and a summary. Process names and container labels are
// attacker-controlled bytes: the text goes through append_printable, the
// JSON through JsonWriter.
#pragma once

#include "tcpleak/core/top.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/run_info.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace tcpleak {

struct TopStart {
    StartInfo info;
    std::uint64_t interval_ns = 0;
    std::uint64_t growth_window_ns = 0;
    TopGrouping by = TopGrouping::Process;
};

// What one census cost to read (session/census_reader.hpp).
struct TopScan {
    std::uint64_t took_ns = 0;
    std::size_t sockets = 0; // records of the TCP tables
    std::size_t holders = 0; // (socket, descriptor) records
    std::uint32_t namespaces_walked = 0;
    std::uint32_t namespaces_unreachable = 0;
};

struct TopSummary : SummaryBase {
    std::uint64_t snapshots = 0;
    std::uint64_t scan_ns_total = 0;
    std::uint64_t scan_ns_max = 0;
};

class TopOutput {
public:
    virtual ~TopOutput() = default;
    virtual void start(const TopStart& start) = 0;
    virtual void snapshot(const TopSnapshot& snap, std::int64_t unix_ns, const TopScan& scan) = 0;
    virtual void summary(const TopSummary& summary) = 0;
};

std::unique_ptr<TopOutput> make_json_top_output(OutputBuffer& out);

// redraw: a terminal, cleared and drawn from the top each time, with at
// most screen_rows() lines (0: no limit); else tables appended per census.
std::unique_ptr<TopOutput> make_text_top_output(OutputBuffer& out, bool redraw,
                                                std::function<std::size_t()> screen_rows);

// The names of the columns and of the unheld kinds, shared by the text and
// the JSON so that they cannot drift apart.
std::string_view unheld_kind_label(UnheldKind kind); // "orphaned", "time-wait", ...

} // namespace tcpleak
