#include "tcpleak/sys/child_process.hpp"

#include "tcpleak/sys/errors.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpleak {

namespace {

[[noreturn]] void exec_in_child(const std::vector<std::string>& command, int gate_fd, int error_fd) {
    char go = 0;
    while (read(gate_fd, &go, 1) < 0 && errno == EINTR) {
    }
    // tcpleak ignores SIGPIPE; COMMAND must get the default back (ignored
    // dispositions survive exec, caught ones are reset by it).
    signal(SIGPIPE, SIG_DFL);
    std::vector<char*> argv;
    for (const auto& arg : command)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    const int err = errno;
    (void)!write(error_fd, &err, sizeof(err));
    _exit(err == ENOENT ? 127 : 126);
}

} // namespace

GatedChild::GatedChild(const std::vector<std::string>& command) : program_(command.front()) {
    int gate[2];
    int exec_error[2];
    if (pipe2(gate, O_CLOEXEC) != 0 || pipe2(exec_error, O_CLOEXEC) != 0)
        throw UserError(std::string("cannot create pipes: ") + std::strerror(errno));
    pid_ = fork();
    if (pid_ < 0)
        throw UserError(std::string("cannot fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        close(gate[1]);
        close(exec_error[0]);
        exec_in_child(command, gate[0], exec_error[1]);
    }
    close(gate[0]);
    close(exec_error[1]);
    gate_fd_ = gate[1];
    exec_error_fd_ = exec_error[0];
}

GatedChild::~GatedChild() {
    if (gate_fd_ >= 0)
        close(gate_fd_);
    if (exec_error_fd_ >= 0)
        close(exec_error_fd_);
    if (pid_ > 0 && !status_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
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

std::optional<int> GatedChild::poll_exit() {
    if (!status_) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_)
            status_ = status;
    }
    return status_;
}

int GatedChild::wait_exit() {
    while (!status_) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, 0);
        if (r == pid_)
            status_ = status;
        else if (r < 0 && errno != EINTR)
            status_ = 0;
    }
    return *status_;
}

void GatedChild::signal(int signal_number) const {
    if (pid_ > 0 && !status_)
        kill(pid_, signal_number);
}

int shell_exit_status(int wait_status) {
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return 1;
}

} // namespace tcpleak
