// tcpleak's side of `run`: COMMAND forked through the keeper (keeper.cpp),
// held at a gate until the BPF side is ready, signalled through a pidfd.

#include "tcpleak/sys/child_process.hpp"

#include "keeper.hpp"

#include "tcpleak/sys/errors.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

namespace tcpleak {

using namespace keeper;

// ------------------------------------------------------------------ tcpleak's side

GatedChild::GatedChild(const std::vector<std::string>& command) : program_(command.front()) {
    // control is a socket pair so that writing to a keeper that is gone
    // is EPIPE without SIGPIPE (MSG_NOSIGNAL), whoever ignores SIGPIPE or not.
    int gate[2], exec_error[2], control[2], status[2];
    if (pipe2(gate, O_CLOEXEC) != 0 || pipe2(exec_error, O_CLOEXEC) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0 || pipe2(status, O_CLOEXEC) != 0)
        throw UserError(std::string("cannot create pipes: ") + std::strerror(errno));
    const pid_t foreground_group = getpgrp();
    keeper_ = fork();
    if (keeper_ < 0) {
        const int err = errno;
        for (const int fd : {gate[0], gate[1], exec_error[0], exec_error[1], control[0], control[1], status[0], status[1]})
            close(fd);
        throw UserError(std::string("cannot fork: ") + std::strerror(err));
    }
    if (keeper_ == 0) {
        close(gate[1]);
        close(exec_error[0]);
        close(control[1]);
        close(status[0]);
        run_keeper(command, gate[0], exec_error[1], control[0], status[1], foreground_group);
    }
    keeper_running_ = true;
    close(gate[0]);
    close(exec_error[1]);
    close(control[0]);
    close(status[1]);
    gate_fd_ = gate[1];
    exec_error_fd_ = exec_error[0];
    control_fd_ = control[1];
    status_fd_ = status[0];

    Record first{};
    if (!read_all(status_fd_, &first, sizeof(first)) || first.kind != kCommandPid) {
        const int err = first.kind == kForkFailed ? first.a : ECHILD;
        wait_keeper();
        close_pipes();
        throw UserError(std::string("cannot fork: ") + std::strerror(err));
    }
    pid_ = first.a;
    // COMMAND waits at the gate: its pid cannot have been reused yet. Signals
    // go through this pidfd, so they never reach another process once the
    // keeper has reaped COMMAND, and they are sent when signal() returns.
    command_pidfd_ = pidfd_open(pid_);
}

GatedChild::~GatedChild() {
    if (gate_fd_ >= 0) { // a COMMAND still at the gate exits
        close(gate_fd_);
        gate_fd_ = -1;
    }
    wait_keeper(); // EOF on its control pipe: it SIGKILLs what is left
    close_pipes();
}

void GatedChild::close_pipes() {
    for (int* fd : {&gate_fd_, &exec_error_fd_, &control_fd_, &status_fd_, &command_pidfd_}) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
    }
}

void GatedChild::release() {
    const char go = 1;
    (void)!write(gate_fd_, &go, 1);
    close(gate_fd_);
    gate_fd_ = -1;

    int err = 0;
    ssize_t n;
    while ((n = read(exec_error_fd_, &err, sizeof(err))) < 0 && errno == EINTR) {
    }
    close(exec_error_fd_);
    exec_error_fd_ = -1;
    if (n == sizeof(err)) {
        wait_exit();
        throw UserError("cannot run " + program_ + ": " + std::strerror(err), err == ENOENT ? 127 : 126);
    }
}

bool GatedChild::read_record(bool block) {
    if (keeper_gone_)
        return false;
    pollfd pfd{status_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, block ? -1 : 0);
    if (ready < 0 && errno == EINTR)
        return block; // a signal: the caller loops (or looks again next tick)
    if (ready <= 0)
        return false;
    Record record{};
    if (!read_all(status_fd_, &record, sizeof(record))) {
        // The keeper was killed: COMMAND got its parent-death SIGKILL.
        keeper_gone_ = true;
        if (!status_)
            status_ = SIGKILL; // the wait status of a process killed by SIGKILL
        return false;
    }
    if (record.kind == kStatus)
        status_ = record.a;
    else if (record.kind == kEnded)
        ended_ = EndedDescendants{record.a, record.b, record.c};
    return true;
}

std::optional<int> GatedChild::poll_exit() {
    while (!status_ && read_record(false)) {
    }
    return status_;
}

int GatedChild::wait_exit() {
    while (!status_ && read_record(true)) {
    }
    return status_.value_or(SIGKILL);
}

void GatedChild::send(int kind, int value) {
    if (control_fd_ < 0)
        return;
    const Control message{kind, value};
    // Small enough to go in one send; EPIPE if the keeper is gone.
    while (::send(control_fd_, &message, sizeof(message), MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

void GatedChild::signal(int signal_number) {
    if (!status_ && command_pidfd_ >= 0)
        (void)pidfd_send_signal(command_pidfd_, signal_number); // ESRCH once it has exited
}

void GatedChild::kill_tree() {
    signal(SIGKILL); // COMMAND at once; the keeper then does the rest
    send(kKillAll, 0);
}

EndedDescendants GatedChild::end_descendants(std::chrono::milliseconds grace) {
    if (!ended_ && !keeper_gone_) {
        send(kEnd, static_cast<int>(grace.count()));
        while (!ended_ && read_record(true)) {
        }
    }
    wait_keeper();
    return ended_.value_or(EndedDescendants{});
}

void GatedChild::wait_keeper() {
    if (control_fd_ >= 0) {
        close(control_fd_);
        control_fd_ = -1;
    }
    if (keeper_running_) {
        while (waitpid(keeper_, nullptr, 0) < 0 && errno == EINTR) {
        }
        keeper_running_ = false;
    }
}

int shell_exit_status(int wait_status) {
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return 1;
}

} // namespace tcpleak
