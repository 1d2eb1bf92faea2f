// Starts COMMAND stopped at a gate, so tracing covers it from its first
// instruction: the child waits on a pipe until the parent has put its pid
// into the traced set, then execs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace tcpleak {

class GatedChild {
public:
    // Forks; the child blocks until release(). Throws UserError on failure.
    explicit GatedChild(const std::vector<std::string>& command);
    ~GatedChild();
    GatedChild(const GatedChild&) = delete;
    GatedChild& operator=(const GatedChild&) = delete;

    pid_t pid() const { return pid_; }

    // Lets the child exec COMMAND. Throws UserError (exit 127 or 126, as a
    // shell would) when the exec fails; the child has exited then.
    void release();

    // The wait(2) status once the child has exited (non-blocking), else nullopt.
    std::optional<int> poll_exit();
    int wait_exit(); // blocking

    void signal(int signal_number) const;

private:
    std::string program_;
    pid_t pid_ = -1;
    int gate_fd_ = -1;      // parent's write end: closing it releases the child
    int exec_error_fd_ = -1; // parent's read end: errno if exec failed, EOF if it succeeded
    std::optional<int> status_;
};

// The exit status a shell reports for a wait(2) status: the exit code, or
// 128 + signal number.
int shell_exit_status(int wait_status);

} // namespace tcpleak
