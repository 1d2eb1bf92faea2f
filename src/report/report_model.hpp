// What the three renderings of a run report (run_report_text.cpp,
// run_report_json.cpp, run_report_junit.cpp) share: the report regrouped by
// process (report_model.cpp), and the words for COMMAND, its outcome and a
// process (report_words.cpp). Private to src/report.

#pragma once

#include "tcpleak/report/run_report.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak::report_detail {

// ---------------------------------------------------------------- the model

// A leak with how it ended, if it did.
struct LeakView {
    const Leak* leak = nullptr;
    const LeakResolved* resolved = nullptr; // null: still in CLOSE_WAIT at the end
};

// A process entry of the report: a traced process, or one made up from a
// leak whose pid is not among the traced processes.
struct ProcessView {
    const TracedProcess* traced = nullptr; // null: made up from a leak
    std::uint32_t pid = 0;
    Comm comm{};
    std::string_view cmdline;
    std::vector<LeakView> leaks;
};

struct ReportModel {
    std::vector<LeakView> leaks;        // report.leaks, then resolved leaks missing from it
    std::vector<ProcessView> processes; // report.processes, then made-up entries
    std::size_t leaking_processes = 0;
};

// Groups the leaks by the process expected to close them (Leak::pid). With
// pid reuse, the first traced process with that pid gets them.
ReportModel build_model(const RunReport& report);

// Total time in its state: until it ended, else until it was reported.
std::uint64_t in_state_ns(const LeakView& view);

std::uint64_t run_duration_ns(const RunReport& report);
std::uint64_t threshold_ns(const RunReport& report);

// The leak's sentence (output/report_format.hpp), and how it ended:
// "pid 1234 server fd 5 127.0.0.1:8080 -> 127.0.0.1:50312 in CLOSE_WAIT for
// 6.10s: never closed; ended: close by 1234 server"
std::string failure_message(const LeakView& view);

// The leak lines of one process: each leak's sentence, and how it ended.
void append_leak_rows(std::string& out, const ProcessView& p, std::string_view indent);

// ---------------------------------------------------------------- words

// "exited with 0", "killed by signal 9 (SIGKILL)".
void append_command_outcome(std::string& out, const RunReport& report);

// A wait(2) status: "exited with 1", "killed by signal 11 (SIGSEGV), core dumped".
void append_wait_status(std::string& out, int status);

// COMMAND as one printable line: "sh -c './server --port 8080'".
void append_command(std::string& out, const std::vector<std::string>& command);

// Untrusted bytes, printable, at most max_bytes of the input (cut at a UTF-8
// sequence boundary) followed by "..." when cut.
void append_printable_limited(std::string& out, std::string_view bytes, std::size_t max_bytes);

// "pid 1234 server: ./server --port 8080"
void append_process_name(std::string& out, const ProcessView& p, std::size_t max_cmdline_bytes);

} // namespace tcpleak::report_detail
