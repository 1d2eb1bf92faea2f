// tcpleak run: run a command (a CI soak test) and fail it when any process of
// its tree leaves a socket in CLOSE_WAIT past the threshold.
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/child_process.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/session/event_loop.hpp"
#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/session/leak_reports.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/session/socket_scanner.hpp"
#include "tcpleak/core/coverage.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/sys/output_file.hpp"
#include "tcpleak/sys/proc.hpp"
#include "tcpleak/report/run_report.hpp"
#include "tcpleak/sys/signals.hpp"
#include "tcpleak/output/text_format.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

namespace tcpleak {

namespace {

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join_command(const std::vector<std::string>& command) {
    std::string joined;
    for (const auto& arg : command)
        joined += (joined.empty() ? "" : " ") + arg;
    return joined;
}

// Collects what the report needs: the traced processes and the leaks.
class RunRecorder : public LeakEvents {
public:
    RunRecorder(OutputBuffer& err, bool quiet) : err_(err), quiet_(quiet) {}

    void add_command(pid_t pid, pid_t ppid, const std::vector<std::string>& command) {
        TracedProcess& root = process(static_cast<std::uint32_t>(pid));
        root.ppid = static_cast<std::uint32_t>(ppid); // tcpleak's keeper (sys/child_process.hpp)
        root.comm = make_comm(basename_of(command.front()).substr(0, 15));
        root.cmdline = join_command(command);
        root.start_mono_ns = monotonic_now_ns();
        order_.push_back(root.pid);
    }

    void leak(const Leak& leak) override {
        Leak copy = leak;
        if (copy.cmdline.empty())
            copy.cmdline = process(copy.pid).cmdline;
        leaks_.push_back(copy);
        if (!quiet_)
            announce(copy);
    }

    void resolved(const LeakResolved& resolved) override { resolved_.push_back(resolved); }

    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t) override {
        if (quiet_)
            return;
        append_lost_line(err_.buffer(), count, total);
        err_.flush();
    }

    void reconciled(const ReconcileNotice& notice) override {
        if (quiet_)
            return;
        append_reconciled_line(err_.buffer(), reconcile_report(notice, ClockMapping::current()));
        err_.flush();
    }

    bool in_tree(std::uint32_t pid) const { return processes_.contains(pid); }

    void process(const ProcEvent& event) override {
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

    void fill(RunReport& report) const {
        for (const std::uint32_t pid : order_)
            report.processes.push_back(processes_.at(pid));
        report.leaks = leaks_;
        report.resolved = resolved_;
    }

private:
    TracedProcess& process(std::uint32_t pid) {
        auto [it, inserted] = processes_.try_emplace(pid);
        if (inserted)
            it->second.pid = pid;
        return it->second;
    }

    void announce(const Leak& leak) {
        std::string& out = err_.buffer();
        out += "tcpleak: leak: pid ";
        append_decimal(out, leak.pid);
        out += ' ';
        append_printable(out, comm_view(leak.comm));
        if (leak.fd) {
            out += " fd ";
            append_decimal(out, *leak.fd);
        }
        out += ' ';
        append_endpoint(out, leak.address.family, leak.address.saddr, leak.address.sport);
        out += " -> ";
        append_endpoint(out, leak.address.family, leak.address.daddr, leak.address.dport);
        out += " in CLOSE_WAIT for ";
        append_duration_short(out, leak.reported_mono_ns - leak.entered_mono_ns);
        out += ": ";
        out += verdict_label(leak.verdict);
        out += '\n';
        err_.flush();
    }

    OutputBuffer& err_;
    bool quiet_;
    std::map<std::uint32_t, TracedProcess> processes_;
    std::vector<std::uint32_t> order_;
    std::vector<Leak> leaks_;
    std::vector<LeakResolved> resolved_;
};

// The kernel's sockets as far as they concern the traced tree: the scans
// read every process's descriptors, and run reports only its own.
class TreeScanner final : public SocketScanner {
public:
    TreeScanner(SocketScanner& machine, const RunRecorder& tree) : machine_(machine), tree_(tree) {}

    std::vector<SocketHolder> existing_sockets() override { return in_tree(machine_.existing_sockets()); }
    std::vector<SocketHolder> close_wait_holders() override { return in_tree(machine_.close_wait_holders()); }
    std::optional<std::vector<std::uint64_t>> close_wait_cookies(std::uint32_t netns) override {
        return machine_.close_wait_cookies(netns);
    }
    std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) override {
        return machine_.remembered_owner(cookie);
    }
    KernelCounters counters() override { return machine_.counters(); }

private:
    std::vector<SocketHolder> in_tree(std::vector<SocketHolder> holders) const {
        std::erase_if(holders, [this](const SocketHolder& h) { return !tree_.in_tree(h.pid); });
        return holders;
    }

    SocketScanner& machine_;
    const RunRecorder& tree_;
};

// A report file. Checked before COMMAND starts, so that a path that cannot
// be written fails at once rather than after a long soak run; written by
// path at the end. A directory that does not exist yet is left to COMMAND
// to create (`--junit reports/tcpleak.xml -- make soak`). Both opens follow
// sys/output_file.hpp: no symbolic link planted in a shared directory, no
// kernel interface, nothing that refuses writes.
class ReportFile {
public:
    explicit ReportFile(const std::optional<std::string>& path) {
        if (!path)
            return;
        path_ = *path;
        check_output_file(path_); // false (no directory yet): checked when written
    }

    explicit operator bool() const { return !path_.empty(); }

    void write(const std::string& content) const {
        const int fd = open_output_file(path_);
        OutputBuffer file(fd, 0, path_); // errors: "cannot write PATH: No space left on device"
        file.keep_writing_on_stop_signal();
        file.buffer() = content;
        try {
            file.flush();
        } catch (const UserError&) {
            file.buffer().clear();
            close(fd);
            throw;
        }
        close(fd);
    }

private:
    std::string path_;
};

// First SIGINT/SIGTERM/SIGHUP: passed on to COMMAND (unless the terminal
// sent it to COMMAND already: it shares our process group); a second one
// kills COMMAND and its whole tree.
void forward_stop_signals(GatedChild& child, int& forwarded, OutputBuffer& err, bool quiet) {
    const int signal_number = stop_signal();
    if (signal_number == 0)
        return;
    const bool from_terminal = stop_signal_from_terminal();
    request_stop(0);
    if (forwarded++ > 0) {
        child.kill_tree();
        return;
    }
    // A terminal signals its foreground process group: COMMAND got it too,
    // unless it moved to a group of its own (timeout(1), setsid).
    const bool reached_command = from_terminal && getpgid(child.pid()) == getpgrp();
    if (!reached_command)
        child.signal(signal_number);
    if (!quiet) {
        err.buffer() += std::string("tcpleak: SIG") + sigabbrev_np(signal_number) +
                        (reached_command ? " reached COMMAND from the terminal" : " passed on to COMMAND") +
                        "; a second signal kills it\n";
        err.flush();
    }
}

// A leak first (--leak-exit-code; 0 reports leaks but keeps COMMAND's
// status), then COMMAND's own failure, then tracking that could not watch
// everything (--incomplete-exit-code; 0 only warns), then COMMAND's status.
int run_exit_status(const RunOptions& options, int command_status, bool leaked, bool complete) {
    if (leaked && options.leak_exit_code != 0)
        return options.leak_exit_code;
    if (command_status != 0 || complete || options.incomplete_exit_code == 0)
        return command_status;
    return options.incomplete_exit_code;
}

// How long descendants still running when COMMAND has exited get between
// SIGTERM and SIGKILL (run --help and the README say 2s).
constexpr std::chrono::seconds kDescendantsGrace{2};

void end_descendants(GatedChild& child, OutputBuffer& err, bool quiet) {
    const EndedDescendants ended = child.end_descendants(kDescendantsGrace);
    if (quiet || ended.total == 0)
        return;
    std::string& out = err.buffer();
    out += "tcpleak: ended ";
    append_decimal(out, ended.total);
    out += ended.total == 1 ? " process" : " processes";
    out += " of COMMAND's tree still running after it exited (SIGTERM";
    if (ended.killed > 0) {
        out += "; SIGKILL for ";
        append_decimal(out, ended.killed);
        out += " still there after ";
        append_duration_short(out, static_cast<std::uint64_t>(std::chrono::nanoseconds(kDescendantsGrace).count()));
    }
    out += ")\n";
    err.flush();
}

} // namespace

int run_run(const RunOptions& options) {
    require_bpf_environment("run");
    // Where COMMAND must run: tcpleak may mount tracefs in a private mount
    // namespace while it attaches (kernel/tracefs.hpp), never for COMMAND.
    const std::uint64_t mount_namespace = mount_namespace_of(0);

    OutputBuffer err(STDERR_FILENO, 0);
    err.keep_writing_on_stop_signal();
    ReportFile json_report(options.json_report);
    ReportFile junit(options.junit);

    // Forked before anything is loaded, in the mount namespace tcpleak was
    // started in; it waits at the gate until its pid is traced.
    GatedChild child(options.command);
    if (mount_namespace_of(static_cast<std::uint32_t>(child.pid())) != mount_namespace)
        throw UserError("COMMAND would start in another mount namespace than tcpleak's; not running it");

    BpfConfig config;
    config.mode = ForwardMode::LeakTracking;
    config.follow_forks = true; // the kernel adds every child of a traced process
    BpfSession session(config);

    LeakTracker tracker(options.threshold);
    Coverage coverage(options.threshold);
    RunRecorder recorder(err, options.quiet);
    KernelScanner machine(session);
    TreeScanner tree(machine, recorder);
    LeakWatch watch(tree, tracker, coverage, recorder);
    RingReader reader(session.ring_buffer_fd(), watch);
    const ClockMapping clock = ClockMapping::current();

    session.select_pid(static_cast<std::uint32_t>(child.pid()));
    recorder.add_command(child.pid(), child.parent_pid(), options.command);
    const std::int64_t start_unix_ns = realtime_now_ns();
    child.release();

    int forwarded = 0;
    run_event_loop(
        reader, std::nullopt,
        [&](std::uint64_t now) {
            forward_stop_signals(child, forwarded, err, options.quiet);
            watch.tick(now, reader);
            err.flush();
            return !child.poll_exit();
        },
        OnStopSignal::Continue);

    // COMMAND is gone: its exit closed what it held (those transitions are
    // queued already); descendants still running may hold leaked sockets.
    const int command_status = child.wait_exit();
    watch.finish(reader);
    session.detach();
    reader.drain_all();
    watch.finish(reader);
    // What is still running of COMMAND's tree was part of the run: ended
    // now, rather than left behind under init.
    end_descendants(child, err, options.quiet);

    RunReport report;
    report.command = options.command;
    report.start_unix_ns = start_unix_ns;
    report.end_unix_ns = realtime_now_ns();
    report.threshold = options.threshold;
    report.clock = clock;
    if (WIFSIGNALED(command_status))
        report.command_signal = WTERMSIG(command_status);
    else
        report.command_exit_code = WEXITSTATUS(command_status);
    recorder.fill(report);
    report.transitions = session.read_transition_counts();
    report.kernel = session.read_counters();
    report.tracking = tracking_state(watch, tracker, coverage);
    report.exit_status = run_exit_status(options, shell_exit_status(command_status), !report.leaks.empty(),
                                         report.tracking.complete);

    if (!options.quiet || !report.leaks.empty()) {
        append_run_report_text(err.buffer(), report);
        err.flush();
    }
    if (json_report)
        json_report.write(render_json_report(report));
    if (junit)
        junit.write(render_junit(report));
    return report.exit_status;
}

} // namespace tcpleak
