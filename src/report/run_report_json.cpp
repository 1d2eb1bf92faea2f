// The JSON document of `tcpleak run` (docs/tcpleak-run-report.schema.json),
// built with nlohmann::ordered_json: it is written once per run, so a DOM
// costs nothing that matters, and the library indents it.
//
// What the report shares with the records of `tcpleak leaks` (a leak's
// members, the tracking and kernel counters) is written by the same
// JsonWriter helpers (output/report_format.hpp) and read back as values, so
// both say the same thing. Every other string, attacker-controlled or not,
// goes through append_json_string too (ill-formed UTF-8 becomes U+FFFD), and
// the document is dumped with every non-ASCII character escaped: no display
// control (U+202E, C1) reaches a terminal that shows the file.

#include "report_model.hpp"

#include "tcpleak/core/records.hpp"
#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <optional>

namespace tcpleak {

using namespace report_detail;

namespace {

using Json = nlohmann::ordered_json;

// The members a JsonWriter helper writes into an object, as that object.
template <typename Write>
Json written(Write&& write) {
    std::string compact;
    JsonWriter json(compact);
    json.begin_object();
    write(json);
    json.end_object();
    return Json::parse(compact);
}

// Untrusted bytes as the string append_json_string makes of them.
Json text(std::string_view bytes) {
    std::string quoted;
    append_json_string(quoted, bytes);
    return Json::parse(quoted);
}

Json time_value(Rfc3339Clock& clock, std::int64_t unix_ns) {
    std::string out;
    clock.append(out, unix_ns);
    return out;
}

template <typename T>
Json nullable(const std::optional<T>& value) {
    return value ? Json(*value) : Json(nullptr);
}

// A leak object: the members of the leak record of `tcpleak leaks`, then
// when it was reported and how it ended.
Json leak_value(Rfc3339Clock& clock, const RunReport& report, const LeakView& view) {
    Json leak = written([&](JsonWriter& json) {
        write_leak_members(json, *view.leak, in_state_ns(view), report.clock, clock);
        write_time_field(json, clock, "reported_time", report.clock.to_unix_ns(view.leak->reported_mono_ns));
    });
    Json& resolved = leak["resolved"];
    if (const LeakResolved* r = view.resolved) {
        resolved["how"] = resolved_how_name(r->how);
        resolved["time"] = time_value(clock, report.clock.to_unix_ns(r->resolved_mono_ns));
        resolved["by_pid"] = nullable(r->by_pid);
        resolved["by_comm"] = r->by_pid ? text(comm_view(r->by_comm)) : Json(nullptr);
        resolved["to_state"] = r->to_state ? Json(tcp_state_name(*r->to_state)) : Json(nullptr);
        resolved["in_state_ms"] = r->in_state_ns / 1'000'000;
        resolved["close_wait_ms"] = r->leak.state == kTcpCloseWait ? Json(r->in_state_ns / 1'000'000) : Json(nullptr);
    }
    return leak;
}

Json process_value(Rfc3339Clock& clock, const RunReport& report, const ProcessView& p) {
    const std::optional<int> status = p.traced ? p.traced->exit_status : std::nullopt;
    const auto when = [&](const std::optional<std::uint64_t>& mono_ns) {
        return mono_ns ? time_value(clock, report.clock.to_unix_ns(*mono_ns)) : Json(nullptr);
    };
    Json process;
    process["pid"] = p.pid;
    process["ppid"] = p.traced ? Json(p.traced->ppid) : Json(nullptr);
    process["comm"] = text(comm_view(p.comm));
    process["cmdline"] = text(p.cmdline);
    process["traced"] = p.traced != nullptr;
    process["exit_status"] = nullable(status);
    process["exit_code"] = status && WIFEXITED(*status) ? Json(WEXITSTATUS(*status)) : Json(nullptr);
    process["exit_signal"] = status && WIFSIGNALED(*status) ? Json(WTERMSIG(*status)) : Json(nullptr);
    process["start_time"] = p.traced ? when(p.traced->start_mono_ns) : Json(nullptr);
    process["exit_time"] = p.traced ? when(p.traced->exit_mono_ns) : Json(nullptr);
    Json& leaks = process["leaks"] = Json::array();
    for (const LeakView& view : p.leaks)
        leaks.push_back(leak_value(clock, report, view));
    return process;
}

} // namespace

std::string render_json_report(const RunReport& report) {
    const ReportModel model = build_model(report);
    Rfc3339Clock clock;
    Json doc;
    doc["tool"] = "tcpleak";
    doc["version"] = TCPLEAK_VERSION;
    doc["schema_version"] = kRunReportSchemaVersion;
    doc["type"] = "run_report";
    Json& command = doc["command"] = Json::array();
    for (const std::string& word : report.command)
        command.push_back(text(word));
    doc["start_time"] = time_value(clock, report.start_unix_ns);
    doc["end_time"] = time_value(clock, report.end_unix_ns);
    doc["duration_ms"] = run_duration_ns(report) / 1'000'000;
    doc["threshold_ms"] = threshold_ns(report) / 1'000'000;
    Json& states = doc["states"] = Json::array();
    for (std::uint8_t state = 1; state < 32; ++state)
        if ((report.states >> state) & 1)
            states.push_back(tcp_state_name(state));
    doc["exit_status"] = report.exit_status;
    doc["command_exit_code"] = nullable(report.command_exit_code);
    doc["command_signal"] = nullable(report.command_signal);
    doc["leaks_found"] = model.leaks.size();

    Json& processes = doc["processes"] = Json::array();
    for (const ProcessView& p : model.processes)
        processes.push_back(process_value(clock, report, p));
    Json& leaks = doc["leaks"] = Json::array();
    for (const LeakView& view : model.leaks)
        leaks.push_back(leak_value(clock, report, view));

    Json& transitions = doc["transitions"] = Json::object();
    for (const auto& [states_pair, count] : report.transitions) {
        std::string name;
        append_state(name, states_pair.first);
        name.append("->");
        append_state(name, states_pair.second);
        transitions[name] = count;
    }
    doc["lost_events"] = report.kernel.lost();
    doc.update(written([&](JsonWriter& json) {
        write_tracking_members(json, report.tracking);
        write_kernel_field(json, report.kernel);
    }));

    std::string out = doc.dump(2, ' ', /*ensure_ascii=*/true);
    out.push_back('\n');
    return out;
}

} // namespace tcpleak
