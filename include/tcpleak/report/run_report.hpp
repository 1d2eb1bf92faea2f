// What `tcpleak run` reports once COMMAND has finished: a text report for
// stderr, one JSON document (--json-report) and JUnit XML (--junit).
#pragma once

#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/sys/clock.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpleak {

// A process of the traced tree: COMMAND and everything it forked.
struct TracedProcess {
    std::uint32_t pid = 0;
    std::uint32_t ppid = 0;
    Comm comm{};
    std::string cmdline;            // argv joined by spaces (may be truncated)
    std::optional<int> exit_status; // wait(2) status, when it exited while traced
    std::optional<std::uint64_t> start_mono_ns; // fork/exec seen (CLOCK_MONOTONIC), when known
    std::optional<std::uint64_t> exit_mono_ns;  // exit seen, when known
};

struct RunReport {
    std::vector<std::string> command;
    std::int64_t start_unix_ns = 0;
    std::int64_t end_unix_ns = 0;
    Duration threshold{};
    std::uint32_t states = 1U << 8;       // watched (--state), a bit per state; CLOSE_WAIT by default
    int exit_status = 0;                  // tcpleak's own exit status
    std::optional<int> command_exit_code; // COMMAND exited with this code...
    std::optional<int> command_signal;    // ...or was killed by this signal
    std::vector<TracedProcess> processes; // COMMAND first, then in fork order
    std::vector<Leak> leaks;              // every leak found, resolved or not
    std::vector<LeakResolved> resolved;   // how reported leaks left CLOSE_WAIT (matched by cookie)
    std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> transitions; // (old,new) -> count seen
    KernelCounters kernel;                // kernel.lost: records lost
    TrackingState tracking;               // what tcpleak could not see
    ClockMapping clock;                   // to turn Leak/LeakResolved mono_ns into wall time
    std::string hostname;                 // JUnit hostname; empty: gethostname() when rendering
};

inline constexpr int kRunReportSchemaVersion = 3;

// Several lines for stderr: the verdict, then each leak per process.
void append_run_report_text(std::string& out, const RunReport& report);
// One JSON document (schema: docs/tcpleak-run-report.schema.json).
std::string render_json_report(const RunReport& report);
// JUnit XML (valid against docs/junit.xsd): a passing test case per process
// that left no socket in CLOSE_WAIT, a failing one (one <failure>) per
// socket a process left there.
std::string render_junit(const RunReport& report);

// Appends text for XML content (attribute: for an attribute value): escapes
// & < > " ' (and tab, CR, LF in attributes, CR in content); each byte of
// ill-formed UTF-8, of a control character other than tab/LF/CR, of DEL, of
// a C1 control or of U+FFFE/U+FFFF becomes a visible "\xNN", so the result
// is always well-formed XML 1.0 whatever the input.
void append_xml_escaped(std::string& out, std::string_view text, bool attribute);

} // namespace tcpleak
