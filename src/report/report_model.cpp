// The run report regrouped by process, which every rendering walks.

#include "report_model.hpp"

#include "tcpleak/output/report_format.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace tcpleak::report_detail {

ReportModel build_model(const RunReport& report) {
    ReportModel model;
    std::unordered_map<std::uint64_t, const LeakResolved*> resolution; // by cookie, first wins
    for (const LeakResolved& r : report.resolved)
        resolution.try_emplace(r.leak.cookie, &r);
    std::unordered_set<std::uint64_t> listed;
    for (const Leak& leak : report.leaks) {
        const auto it = resolution.find(leak.cookie);
        model.leaks.push_back({&leak, it == resolution.end() ? nullptr : it->second});
        listed.insert(leak.cookie);
    }
    // A resolved leak is also a leak, even if the command did not list it
    // (LeakResolved::newly_reported).
    for (const LeakResolved& r : report.resolved) {
        if (listed.insert(r.leak.cookie).second)
            model.leaks.push_back({&r.leak, &r});
    }

    std::unordered_map<std::uint32_t, std::size_t> by_pid; // pid -> index in model.processes
    for (const TracedProcess& p : report.processes) {
        by_pid.try_emplace(p.pid, model.processes.size());
        model.processes.push_back({&p, p.pid, p.comm, p.cmdline, {}});
    }
    const std::size_t traced = model.processes.size();
    for (const LeakView& view : model.leaks) {
        const auto [it, added] = by_pid.try_emplace(view.leak->pid, model.processes.size());
        if (added)
            model.processes.push_back({nullptr, view.leak->pid, view.leak->comm, view.leak->cmdline, {}});
        model.processes[it->second].leaks.push_back(view);
    }
    for (std::size_t i = 0; i < traced; ++i) {
        ProcessView& p = model.processes[i];
        if (p.cmdline.empty() && !p.leaks.empty())
            p.cmdline = p.leaks.front().leak->cmdline;
    }
    model.leaking_processes = static_cast<std::size_t>(std::count_if(
        model.processes.begin(), model.processes.end(), [](const ProcessView& p) { return !p.leaks.empty(); }));
    return model;
}

std::uint64_t in_state_ns(const LeakView& view) {
    if (view.resolved)
        return view.resolved->in_state_ns;
    return sub_sat(view.leak->reported_mono_ns, view.leak->entered_mono_ns);
}

std::uint64_t run_duration_ns(const RunReport& report) { return elapsed_ns(report.start_unix_ns, report.end_unix_ns); }
std::uint64_t threshold_ns(const RunReport& report) { return nonnegative_ns(report.threshold); }

std::string failure_message(const LeakView& view) {
    std::string text;
    append_leak_sentence(text, *view.leak, in_state_ns(view));
    if (view.resolved) {
        text.append("; ended: ");
        append_resolution(text, *view.resolved);
    }
    return text;
}

void append_leak_rows(std::string& out, const ProcessView& p, std::string_view indent) {
    for (const LeakView& view : p.leaks) {
        out.append(indent);
        out.append(failure_message(view));
        out.push_back('\n');
    }
}

} // namespace tcpleak::report_detail
