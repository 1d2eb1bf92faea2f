// The keeper of `tcpleak run` (docs/design.md, "COMMAND's process tree"):
// a child subreaper between tcpleak and COMMAND that finds every descendant,
// ends them when COMMAND is done or tcpleak is gone, and never writes
// anything but its records to tcpleak.

#include "keeper.hpp"

#include "tcpleak/sys/child_process.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <optional>
#include <unordered_set>

namespace tcpleak::keeper {

namespace {

// Signals a terminal or a process group kill sends; the keeper ignores them
// (it ends when tcpleak does), COMMAND gets their defaults back.
constexpr int kJobSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE};

// How long the keeper keeps SIGKILLing a tree that will not go away (a
// process in uninterruptible sleep dies when it wakes: its SIGKILL is pending).
constexpr std::chrono::seconds kKillPatience{10};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// ------------------------------------------------------------------ COMMAND

[[noreturn]] void exec_command(const std::vector<std::string>& command, int gate_fd, int error_fd, pid_t keeper,
                               pid_t foreground_group) {
    // Dies with the keeper. The keeper may have died before this took effect:
    // then the parent is no longer the keeper, and there is nobody to wait for.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper)
        _exit(127);
    // tcpleak's process group: a terminal's ^C reaches COMMAND directly, as
    // it would without tcpleak (run.cpp does not send it a second SIGINT).
    (void)setpgid(0, foreground_group);
    // The keeper ignores job signals and blocks SIGCHLD; ignored dispositions
    // and the mask survive exec. (tcpleak's own handlers are reset by exec.)
    for (const int sig : kJobSignals)
        signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    char go = 0;
    if (!read_all(gate_fd, &go, 1) || go != 1)
        _exit(127); // tcpleak gave up (or died) before releasing it
    std::vector<char*> argv;
    for (const auto& arg : command)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    const int err = errno;
    (void)write_all(error_fd, &err, sizeof(err));
    _exit(err == ENOENT ? 127 : 126);
}

// ------------------------------------------------------------------ the keeper

class Keeper {
public:
    Keeper(pid_t command, int status_fd, int signal_fd)
        : self_(getpid()), command_(command), status_fd_(status_fd), signal_fd_(signal_fd) {}

    // Reaps every child that has exited (orphans re-parented here too);
    // COMMAND's status goes to tcpleak.
    void reap() {
        for (;;) {
            int status = 0;
            const pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                return;
            if (pid == command_ && !command_reaped_) {
                command_reaped_ = true;
                report({kStatus, status, 0, 0});
            }
        }
    }

    void drain_signal_fd() {
        signalfd_siginfo info{};
        while (read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
        }
    }

    // SIGKILL to every descendant until none is left (or kKillPatience);
    // returns the processes it had to signal.
    std::unordered_set<pid_t> kill_all() {
        std::unordered_set<pid_t> signalled;
        const std::int64_t give_up = now_ms() + std::chrono::milliseconds(kKillPatience).count();
        while (signal_round(SIGKILL, signalled) && now_ms() < give_up)
            wait_for_exits(give_up);
        return signalled;
    }

    // SIGTERM (and SIGCONT, for stopped ones) to every descendant; SIGKILL to
    // those still there after grace.
    EndedDescendants end(std::chrono::milliseconds grace) {
        EndedDescendants ended;
        std::unordered_set<pid_t> terminated;
        const std::int64_t deadline = now_ms() + grace.count();
        while (signal_round(SIGTERM, terminated) && now_ms() < deadline)
            wait_for_exits(deadline);
        const std::unordered_set<pid_t> killed = kill_all();
        ended.terminated = static_cast<int>(terminated.size());
        ended.killed = static_cast<int>(killed.size());
        std::unordered_set<pid_t> all = terminated;
        all.insert(killed.begin(), killed.end());
        ended.total = static_cast<int>(all.size());
        reap();
        return ended;
    }

    void report(const Record& record) { (void)write_all(status_fd_, &record, sizeof(record)); }

private:
    struct Entry {
        pid_t ppid;
        bool zombie;
    };

    // Every process, by pid: its parent and whether it is a zombie.
    static std::unordered_map<pid_t, Entry> processes() {
        std::unordered_map<pid_t, Entry> all;
        DIR* proc = opendir("/proc");
        if (proc == nullptr)
            return all;
        while (const dirent* entry = readdir(proc)) {
            char* end = nullptr;
            const long pid = std::strtol(entry->d_name, &end, 10);
            if (pid <= 0 || *end != '\0')
                continue;
            if (const auto e = stat_of(static_cast<pid_t>(pid)))
                all[static_cast<pid_t>(pid)] = *e;
        }
        closedir(proc);
        return all;
    }

    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    static std::optional<Entry> stat_of(pid_t pid) {
        char path[32];
        std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
        const UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
        if (!fd)
            return std::nullopt;
        char text[512];
        const ssize_t n = read(fd.get(), text, sizeof(text) - 1);
        if (n <= 0)
            return std::nullopt;
        text[n] = '\0';
        const char* paren = std::strrchr(text, ')');
        char state = 0;
        int ppid = 0;
        if (paren == nullptr || std::sscanf(paren + 1, " %c %d", &state, &ppid) != 2)
            return std::nullopt;
        return Entry{static_cast<pid_t>(ppid), state == 'Z'};
    }

    // The descendants of the keeper; zombies included.
    std::unordered_map<pid_t, Entry> descendants() const {
        const auto all = processes();
        std::unordered_map<pid_t, std::vector<pid_t>> children;
        for (const auto& [pid, e] : all)
            children[e.ppid].push_back(pid);
        std::unordered_map<pid_t, Entry> found;
        std::vector<pid_t> todo{self_};
        while (!todo.empty()) {
            const pid_t parent = todo.back();
            todo.pop_back();
            for (const pid_t child : children[parent]) {
                found[child] = all.at(child);
                todo.push_back(child);
            }
        }
        return found;
    }

    // Sends sig to every live descendant not signalled yet; keeps a pidfd of
    // each for wait_for_exits. True while descendants are left (zombies
    // included: their parents are still to be ended, or to be reaped here).
    bool signal_round(int sig, std::unordered_set<pid_t>& signalled) {
        reap();
        const auto tree = descendants();
        for (const auto& [pid, e] : tree) {
            if (e.zombie || signalled.count(pid))
                continue;
            UniqueFd fd(pidfd_open(pid));
            if (!fd)
                continue; // gone meanwhile
            // The pid may have been reused since the scan: the process the
            // pidfd holds must still have a parent in the tree.
            const auto now = stat_of(pid);
            if (!now || (now->ppid != self_ && !tree.count(now->ppid)) || pidfd_send_signal(fd.get(), sig) != 0)
                continue;
            if (sig == SIGTERM)
                (void)pidfd_send_signal(fd.get(), SIGCONT); // a stopped process would never see the SIGTERM
            signalled.insert(pid);
            exits_.push_back(fd.get());
            fd.release(); // exits_ owns it now
        }
        return !tree.empty();
    }

    // Until one of the signalled processes or a child exits, or deadline.
    void wait_for_exits(std::int64_t deadline) {
        std::vector<pollfd> fds;
        fds.push_back({signal_fd_, POLLIN, 0});
        for (const int fd : exits_)
            fds.push_back({fd, POLLIN, 0});
        const std::int64_t left = std::max<std::int64_t>(0, deadline - now_ms());
        if (poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left, 1000))) > 0) {
            drain_signal_fd();
            std::vector<int> open;
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (fds[i].revents != 0)
                    close(fds[i].fd);
                else
                    open.push_back(fds[i].fd);
            }
            exits_ = std::move(open);
        }
        reap();
    }

    pid_t self_;
    pid_t command_;
    int status_fd_;
    int signal_fd_;
    bool command_reaped_ = false;
    std::vector<int> exits_; // pidfds of signalled processes not seen exiting yet
};

} // namespace

// Calls io (read or write) until size bytes have gone through, again after
// EINTR; false at EOF or on an error.
template <typename Io, typename Byte>
bool transfer_all(Io io, int fd, Byte* p, std::size_t size) {
    while (size > 0) {
        const ssize_t n = io(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
    return transfer_all(::write, fd, static_cast<const char*>(data), size);
}

// False at EOF or on an error.
bool read_all(int fd, void* data, std::size_t size) { return transfer_all(::read, fd, static_cast<char*>(data), size); }

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

[[noreturn]] void run_keeper(const std::vector<std::string>& command, int gate_fd, int error_fd, int control_fd,
                             int status_fd, pid_t foreground_group) {
    prctl(PR_SET_NAME, "tcpleak-keeper");
    (void)setpgid(0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    for (const int sig : kJobSignals)
        signal(sig, SIG_IGN);
    sigset_t child_exits;
    sigemptyset(&child_exits);
    sigaddset(&child_exits, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child_exits, nullptr);
    const int signal_fd = signalfd(-1, &child_exits, SFD_CLOEXEC | SFD_NONBLOCK);

    const pid_t keeper = getpid();
    const pid_t command_pid = fork();
    if (command_pid < 0) {
        const Record failed{kForkFailed, errno, 0, 0};
        (void)write_all(status_fd, &failed, sizeof(failed));
        _exit(1);
    }
    if (command_pid == 0)
        exec_command(command, gate_fd, error_fd, keeper, foreground_group);
    close(gate_fd);
    close(error_fd);
    // The keeper writes nothing: it must not keep tcpleak's terminal or
    // pipes open (a reader of tcpleak's output waits for their EOF).
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2 && null >= 0; ++fd)
        dup2(null, fd);

    Keeper tree(command_pid, status_fd, signal_fd);
    tree.report({kCommandPid, command_pid, 0, 0});
    for (;;) {
        pollfd fds[2] = {{control_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0)
            continue; // EINTR
        if (fds[1].revents != 0) {
            tree.drain_signal_fd();
            tree.reap();
        }
        if (fds[0].revents == 0)
            continue;
        Control message{};
        if (!read_all(control_fd, &message, sizeof(message))) {
            tree.kill_all(); // tcpleak is gone: so is its tree
            tree.reap();
            _exit(0);
        }
        switch (message.kind) {
        case kKillAll: tree.kill_all(); break;
        case kEnd: {
            const EndedDescendants ended = tree.end(std::chrono::milliseconds(message.value));
            tree.report({kEnded, ended.total, ended.terminated, ended.killed});
            _exit(0);
        }
        default: break;
        }
    }
}

} // namespace tcpleak::keeper
