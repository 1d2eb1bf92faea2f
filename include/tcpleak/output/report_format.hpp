// What the outputs of trace (trace_output.cpp), leaks (leak_output.cpp) and
// run (src/report/run_report_*.cpp) print alike, written once so they cannot
// drift apart: kernel counters, thresholds, ages, who closed or holds a
// socket, verdicts, and the members of a leak JSON object.
//
// Process names, command lines and `via` are attacker-controlled bytes: the
// text goes through append_printable, the JSON through JsonWriter.
#pragma once

#include "tcpleak/core/kernel_counters.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/text_format.hpp"
#include "tcpleak/sys/clock.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak {

// The version of docs/tcpleak-events.schema.json the NDJSON records follow.
inline constexpr int kEventsSchemaVersion = 3;

inline std::uint64_t elapsed_ns(std::int64_t start_unix_ns, std::int64_t end_unix_ns) {
    return end_unix_ns > start_unix_ns ? static_cast<std::uint64_t>(end_unix_ns - start_unix_ns) : 0;
}

// ---------------------------------------------------------------- text

// "kernel: selected_full=3; BPF maps: 9.1 MiB\n": the non-zero counters with
// their JSON names, or just "BPF maps: 512 B\n".
void append_kernel_line(std::string& out, const KernelCounters& kernel, std::uint64_t bpf_map_bytes);

// The threshold as people type it: "5s", "500ms", else the short form.
void append_threshold(std::string& out, std::uint64_t ns);

// "1 socket", "2 sockets"
void append_plural(std::string& out, std::uint64_t n, std::string_view one, std::string_view many);

// A time in CLOSE_WAIT: "6.1s", or ">=6.1s" when the socket was already in
// CLOSE_WAIT when tcpleak started (estimate: the age is a lower bound).
void append_age(std::string& out, std::uint64_t ns, bool estimate);

// "1234 server"
void append_pid_comm(std::string& out, std::uint32_t pid, const Comm& comm);

// "127.0.0.1:8080 -> 127.0.0.1:50312"
void append_connection(std::string& out, const SocketAddress& a);

// "7", or "-" when not known
void append_fd(std::string& out, const std::optional<std::uint32_t>& fd);

// "pid 1234 server fd 7 127.0.0.1:8080 -> 127.0.0.1:50312"
void append_leaked_socket(std::string& out, const Leak& leak);

// "1233 server (fd 7, close)", "1233 server (exit)", "1233 server"
void append_closer(std::string& out, const ClosedBy& closed_by);

// "1234 server fd 9, 1240 worker fd 9"
void append_holders(std::string& out, const std::vector<Holder>& holders);

// Whether the socket is also held by another descriptor than the one of the
// process expected to close it (e.g. inherited by a child).
bool held_elsewhere(const Leak& leak);

// Who closed the socket and who still holds it, or nothing:
//   "closed by 1233 server (fd 7, close); held by 1234 server fd 9"
// The holders are named when the socket was closed (they keep it alive), and
// for a never-closed socket only when it is held elsewhere.
void append_verdict_details(std::string& out, const Leak& leak);

// The verdict for people: its label, then append_verdict_details.
//   "never closed"
//   "never closed; held by 1234 server fd 7, 1240 worker fd 7"
//   "closed, still referenced: closed by 1233 server (fd 7, close); held by 1234 server fd 9"
//   "closed, still referenced: held by 1234 server fd 9" (closer unknown)
// Compact (the narrower lines of `tcpleak leaks`): a known closer stands for
// the label of a closed socket, and "; " always follows the label:
//   "closed by 1233 server (fd 7, close); held by 1234 server fd 9"
//   "closed, still referenced; held by 1234 server fd 9" (closer unknown)
enum class VerdictForm : std::uint8_t { Labelled, Compact };
void append_verdict(std::string& out, const Leak& leak, VerdictForm form);

// One leak in one sentence, the same in every text that tells of it (the
// LEAK line of `tcpleak leaks`, `tcpleak run`'s announcement and its JUnit
// failure message). in_state_ns is the time it says: in its state when
// reported, or (run's report) until it ended. The other end, when on this
// host, closes it.
//   "pid 1234 server fd 7 127.0.0.1:8080 -> 127.0.0.1:50312 in CLOSE_WAIT for 5.00s: never closed;
//    the other end: pid 812 client fd 5 in FIN_WAIT2" (one line; "the other end:
//    orphaned in FIN_WAIT2" when no descriptor holds it)
//   "pid 1240 worker fd 9 [::1]:443 -> [::1]:40000 in CLOSE_WAIT for at least 3m00s, 12 bytes unread:
//    closed by 1233 server (fd 7, close); held by 1240 worker fd 9" (one line)
//   "pid 1234 server fd - 10.0.0.1:80 -> 10.0.0.2:5000 in FIN_WAIT1 for 9.00s: orphaned (no descriptor holds it)"
void append_leak_sentence(std::string& out, const Leak& leak, std::uint64_t in_state_ns);

// "why: ...\n", "hint: ...\n" after indent, when the leak has an explanation.
void append_explanation_lines(std::string& out, const Leak& leak, std::string_view indent);

// "CLOSE_WAIT", "FIN_WAIT1 or FIN_WAIT2": the watched states (a bit per state).
void append_state_list(std::string& out, std::uint32_t states);
// " leaked in CLOSE_WAIT" (the default) or " stuck in FIN_WAIT1 or FIN_WAIT2":
// what a summary says its sockets did.
void append_leaked_in(std::string& out, std::uint32_t states);

// How a leak ended: "close by 1234 server", "reset", "moved to FIN_WAIT2"
void append_resolution(std::string& out, const LeakResolved& r);

// "tcpleak: 12 events lost (ring buffer full), 40 in total\n", written to
// stderr at once: the text outputs' notice of lost events.
void write_lost_line(OutputBuffer& err, std::uint64_t count, std::uint64_t total);

// When the attribution table was full: a warning that some owners are unknown.
void append_owners_evicted_warning(std::string& out, std::uint64_t evicted);

// "tcpleak: reconciled with the kernel's socket tables after 120 lost
// events: 3 sockets in CLOSE_WAIT found, 0 gone\n", and a second line when
// the gap was too long to rule out an unseen leak.
void append_reconciled_line(std::string& out, const ReconcileNotice& notice);

// When tracking was incomplete: "tcpleak: warning: tracking incomplete: ..."
// per reason, and what the exit status says.
void append_tracking_text(std::string& out, const TrackingState& tracking);

// ---------------------------------------------------------------- JSON

// Frames NDJSON records on an output: {"type":…,"time":…, members…}\n
class NdjsonRecords {
public:
    explicit NdjsonRecords(OutputBuffer& out) : out_(out) {}

    // Opens a record with the members every record starts with.
    JsonWriter begin(std::string_view type, std::int64_t unix_ns);
    void end(JsonWriter& json);
    // A start record up to "mode"; the caller may add members, then end().
    JsonWriter begin_start(std::string_view mode, std::int64_t unix_ns, std::string_view version);
    // A summary record, at end_unix_ns, up to "duration_ms"; the caller adds members, then end().
    JsonWriter begin_summary(std::string_view mode, std::int64_t start_unix_ns, std::int64_t end_unix_ns);
    void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns);
    // A record formatted by the caller (the hot path), newline included.
    void append_line(const char* begin, const char* end);

    bool closed() const { return out_.closed(); }
    Rfc3339Clock& rfc3339() { return rfc3339_; }

private:
    OutputBuffer& out_;
    Rfc3339Clock rfc3339_;
};


// key: "2026-11-21T07:44:06.123456Z"
void write_time_field(JsonWriter& json, Rfc3339Clock& clock, std::string_view key, std::int64_t unix_ns);

// key: "127.0.0.1" or "::1"
void write_address_field(JsonWriter& json, std::string_view key, std::uint8_t family,
                         const std::array<std::uint8_t, 16>& addr);

// family, saddr, sport, daddr, dport, netns
void write_address_members(JsonWriter& json, const SocketAddress& a);

// "kernel": {the counters by their names, zeros included}
void write_kernel_field(JsonWriter& json, const KernelCounters& kernel);

// tracking_complete, incomplete_reasons, reconciliations, found_by_scan,
// scans, scan_ms: the members every leak summary carries.
void write_tracking_members(JsonWriter& json, const TrackingState& tracking);

// key_pid: pid (or null), key_comm: its comm (or null).
void write_pid_comm(JsonWriter& json, std::string_view pid_key, std::string_view comm_key,
                    std::optional<std::uint32_t> pid, const Comm& comm);
// The process a report names: null for an orphan whose owner is not known.
std::optional<std::uint32_t> leak_pid(const Leak& leak);

// cgroup, container_id, container, pod_uid, pod, namespace and unit (null
// when not known); nothing when workload is nullopt (not resolved).
void write_workload_members(JsonWriter& json, const std::optional<Workload>& workload);

// The members of a leak object, from "pid" to "peer", in the order of the
// leak record of `tcpleak leaks` and of a leak of `tcpleak run`'s report
// (which adds reported_time and resolved). in_state_ns is what in_state_ms
// (and, for CLOSE_WAIT, close_wait_ms) says: the time in its state at the
// report, or (run) until it ended.
void write_leak_members(JsonWriter& json, const Leak& leak, std::uint64_t in_state_ns, const ClockMapping& clock,
                        Rfc3339Clock& rfc3339);

} // namespace tcpleak
