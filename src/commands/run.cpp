// tcpleak run: run a command (a CI soak test) and fail it when any process of
// its tree leaves a socket in CLOSE_WAIT past the threshold.
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"
#include "tcpleak/report/run_recorder.hpp"
#include "tcpleak/report/run_report.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/session/socket_scanner.hpp"
#include "tcpleak/sys/child_process.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/output_file.hpp"
#include "tcpleak/sys/proc.hpp"
#include "tcpleak/sys/signals.hpp"

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

// The kernel's sockets as far as they concern the traced tree: the scans
// read every process's descriptors, and run reports only its own.
class TreeScanner final : public SocketScanner {
public:
    TreeScanner(SocketScanner& machine, const RunRecorder& tree) : machine_(machine), tree_(tree) {}

    std::vector<SocketHolder> existing_sockets() override { return in_tree(machine_.existing_sockets()); }
    std::vector<SocketHolder> holders_in_states(std::uint32_t states) override {
        return in_tree(machine_.holders_in_states(states));
    }
    // Whole: peers and orphans outside the tree are looked up there (the
    // tracker's filter keeps the reports to the tree).
    std::optional<std::vector<TcpSocket>> tcp_table(std::uint32_t netns, std::uint32_t states) override {
        return machine_.tcp_table(netns, states);
    }
    std::vector<std::uint32_t> namespaces() override { return machine_.namespaces(); }
    std::optional<TcpSysctls> tcp_sysctls(std::uint32_t netns) override { return machine_.tcp_sysctls(netns); }
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
    CommandSession session("run", CommandSession::Streams::ErrOnly);
    // Where COMMAND must run: tcpleak may mount tracefs in a private mount
    // namespace while it attaches (kernel/tracefs.hpp), never for COMMAND.
    const std::uint64_t mount_namespace = mount_namespace_of(0);

    OutputBuffer& err = session.err();
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
    config.watch_states = options.states;
    session.load(config);

    RunRecorder recorder(err, options.quiet);
    // Orphans (run --state) are held by no process: the tree's when the
    // process that had them is.
    LeakFilter tree_only;
    tree_only.in_scope = [&recorder](std::uint32_t pid) { return recorder.in_tree(pid); };
    LeakTrackerPolicy policy;
    policy.states = options.states;
    LeakTracker tracker(options.threshold, tree_only, policy);
    Coverage coverage(options.threshold);
    KernelScanner machine(session.bpf());
    TreeScanner tree(machine, recorder);
    // Reports name the other end of a connection wherever it is.
    LeakWatch watch(tree, tracker, coverage, recorder, {}, {}, &machine);
    const ClockMapping clock = ClockMapping::current();

    session.bpf().select_pid(static_cast<std::uint32_t>(child.pid()));
    recorder.add_command(static_cast<std::uint32_t>(child.pid()), static_cast<std::uint32_t>(child.parent_pid()),
                         options.command, monotonic_now_ns());
    session.read_into(watch);
    child.release();

    int forwarded = 0;
    session.loop(
        std::nullopt,
        [&](std::uint64_t now, EventSource& source) {
            forward_stop_signals(child, forwarded, err, options.quiet);
            watch.tick(now, source);
            return !child.poll_exit();
        },
        OnStopSignal::Continue);

    // COMMAND is gone: its exit closed what it held (those transitions are
    // queued already); descendants still running may hold leaked sockets.
    const int command_status = child.wait_exit();
    session.stop([&](EventSource& source) { watch.finish(source); });
    // What is still running of COMMAND's tree was part of the run: ended
    // now, rather than left behind under init.
    end_descendants(child, err, options.quiet);

    RunReport report;
    report.command = options.command;
    report.start_unix_ns = session.started().unix_ns;
    report.end_unix_ns = realtime_now_ns();
    report.threshold = options.threshold;
    report.states = options.states;
    report.clock = clock;
    if (WIFSIGNALED(command_status))
        report.command_signal = WTERMSIG(command_status);
    else
        report.command_exit_code = WEXITSTATUS(command_status);
    recorder.fill(report);
    report.transitions = session.bpf().read_transition_counts();
    report.kernel = session.bpf().read_counters();
    report.tracking = watch.tracking_state();
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
