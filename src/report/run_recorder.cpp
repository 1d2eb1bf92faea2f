#include "tcpleak/report/run_recorder.hpp"

#include "tcpleak/output/report_format.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/proc.hpp"

namespace tcpleak {

namespace {

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

void RunRecorder::add_command(std::uint32_t pid, std::uint32_t parent_pid, const std::vector<std::string>& command,
                              std::uint64_t mono_ns) {
    TracedProcess& root = process(pid);
    root.ppid = parent_pid;
    root.comm = make_comm(basename_of(command.front()).substr(0, 15));
    root.cmdline = join_args(command);
    root.start_mono_ns = mono_ns;
    order_.push_back(root.pid);
}

void RunRecorder::leak(const Leak& leak) {
    Leak& kept = leaks_.emplace_back(leak);
    if (kept.cmdline.empty())
        kept.cmdline = process(kept.pid).cmdline;
    if (quiet_)
        return;
    std::string& out = err_.buffer();
    out += "tcpleak: leak: ";
    append_leak_sentence(out, kept, sub_sat(kept.reported_mono_ns, kept.entered_mono_ns));
    out += '\n';
    err_.flush();
}

void RunRecorder::process(const ProcEvent& event) {
    TracedProcess& p = process(event.pid);
    switch (event.kind) {
    case ProcEventKind::Fork: {
        const TracedProcess& parent = process(event.ppid);
        p.ppid = event.ppid;
        p.comm = parent.comm;
        p.cmdline = parent.cmdline;
        p.start_mono_ns = event.mono_ns;
        order_.push_back(p.pid);
        break;
    }
    case ProcEventKind::Exec:
        p.comm = event.comm;
        if (!event.args.empty())
            p.cmdline = join_args(event.args);
        break;
    case ProcEventKind::Exit:
        p.exit_status = event.exit_status;
        p.exit_mono_ns = event.mono_ns;
        break;
    }
}

void RunRecorder::lost(std::uint64_t count, std::uint64_t total, std::uint64_t) {
    if (quiet_)
        return;
    write_lost_line(err_, count, total);
    err_.flush();
}

void RunRecorder::reconciled(const ReconcileNotice& notice) {
    if (quiet_)
        return;
    append_reconciled_line(err_.buffer(), notice);
    err_.flush();
}

void RunRecorder::fill(RunReport& report) const {
    for (const std::uint32_t pid : order_)
        report.processes.push_back(processes_.at(pid));
    report.leaks = leaks_;
    report.resolved = resolved_;
}

TracedProcess& RunRecorder::process(std::uint32_t pid) {
    auto [it, inserted] = processes_.try_emplace(pid);
    if (inserted)
        it->second.pid = pid;
    return it->second;
}

} // namespace tcpleak
