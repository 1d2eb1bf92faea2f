// Starts COMMAND stopped at a gate, so tracing covers it from its first
// instruction, and makes sure that COMMAND's whole process tree ends with
// tcpleak, however tcpleak ends.
//
//   tcpleak ──fork──> keeper ──fork──> COMMAND ──> children, daemons, ...
//
// The keeper is a small copy of tcpleak (comm "tcpleak-keeper") that does
// nothing but hold the tree:
//  - it is a child subreaper (PR_SET_CHILD_SUBREAPER): a descendant whose
//    parent dies, a double-forked or setsid() daemon included, becomes its
//    child instead of init's, so every process of the tree stays below it;
//  - it holds the read end of a pipe whose write end only tcpleak holds: when
//    tcpleak is gone, even by SIGKILL, the keeper reads EOF and SIGKILLs
//    every descendant, reaps them and exits;
//  - it is in a process group of its own, so a terminal's ^C or a kill of
//    tcpleak's process group does not end it before it has done that;
//  - COMMAND gets PR_SET_PDEATHSIG(SIGKILL) against the keeper, so it dies
//    even if the keeper is killed.
// COMMAND joins tcpleak's process group before exec, so a terminal's ^C
// reaches it directly, as it would without tcpleak. A pid namespace would
// also tie the tree to tcpleak, but it changes what COMMAND sees (pids that
// differ from /proc's, pid 1 semantics for signals); this does not.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tcpleak {

// What end_descendants had to do.
struct EndedDescendants {
    int total = 0;      // processes ended
    int terminated = 0; // still running when COMMAND's run was over: sent SIGTERM
    int killed = 0;     // still there after the grace (or started since): sent SIGKILL
};

class GatedChild {
public:
    // Forks the keeper, which forks COMMAND; COMMAND blocks until release().
    // Throws UserError on failure.
    explicit GatedChild(const std::vector<std::string>& command);
    // Kills whatever is left of the tree (SIGKILL) and waits for the keeper.
    ~GatedChild();
    GatedChild(const GatedChild&) = delete;
    GatedChild& operator=(const GatedChild&) = delete;

    pid_t pid() const { return pid_; }               // COMMAND
    pid_t parent_pid() const { return keeper_; }     // COMMAND's parent: the keeper

    // Lets the child exec COMMAND. Throws UserError (exit 127 or 126, as a
    // shell would) when the exec fails; the child has exited then.
    void release();

    // COMMAND's wait(2) status once it has exited (non-blocking), else nullopt.
    std::optional<int> poll_exit();
    int wait_exit(); // blocking

    // Sends signal_number to COMMAND, through a pidfd: delivered when this
    // returns, and never to another process that got COMMAND's pid later.
    void signal(int signal_number);
    // SIGKILL to COMMAND and every descendant, now.
    void kill_tree();

    // Once COMMAND has exited: ends the descendants still running (SIGTERM,
    // then SIGKILL to those still there after grace), reaps them, and waits
    // for the keeper to exit.
    EndedDescendants end_descendants(std::chrono::milliseconds grace);

private:
    void send(int kind, int value);
    bool read_record(bool block); // one record from the keeper; false when none (or EOF)
    void wait_keeper();

    void close_pipes();

    std::string program_;
    pid_t keeper_ = -1;
    bool keeper_running_ = false; // not reaped yet
    pid_t pid_ = -1;
    int gate_fd_ = -1;       // write end: a byte releases COMMAND, EOF without one makes it exit
    int exec_error_fd_ = -1; // read end: errno if exec failed, EOF if it succeeded
    int control_fd_ = -1;    // write end, to the keeper: signals, "end", EOF = tcpleak is gone
    int status_fd_ = -1;     // read end, from the keeper: COMMAND's pid, its status, what was ended
    int command_pidfd_ = -1;
    std::optional<int> status_;
    std::optional<EndedDescendants> ended_;
    bool keeper_gone_ = false;
};

// The exit status a shell reports for a wait(2) status: the exit code, or
// 128 + signal number.
int shell_exit_status(int wait_status);

} // namespace tcpleak
