// What tcpleak's side of `run` (child_process.cpp) and the keeper
// (keeper.cpp) say to each other over their pipes, and the keeper's entry
// point. Private to src/sys.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tcpleak::keeper {

// From the keeper to tcpleak.
struct Record {
    std::int32_t kind;
    std::int32_t a;
    std::int32_t b;
    std::int32_t c;
};
constexpr std::int32_t kCommandPid = 'P';  // a: COMMAND's pid
constexpr std::int32_t kForkFailed = 'F';  // a: errno
constexpr std::int32_t kStatus = 'S';      // a: COMMAND's wait status
constexpr std::int32_t kEnded = 'E';       // a: ended in all, b: sent SIGTERM, c: sent SIGKILL

// From tcpleak to the keeper.
struct Control {
    std::int32_t kind;
    std::int32_t value;
};
constexpr std::int32_t kKillAll = 'K'; // SIGKILL the whole tree now
constexpr std::int32_t kEnd = 'T';     // value: grace in ms; end the tree, report, exit

// Whole records over a pipe, again after EINTR; false at EOF or on an error.
bool write_all(int fd, const void* data, std::size_t size);
bool read_all(int fd, void* data, std::size_t size);

int pidfd_open(pid_t pid);
int pidfd_send_signal(int pidfd, int sig);

// The keeper, in the child forked for it: forks COMMAND (held at gate_fd
// until tcpleak releases it; an exec failure's errno goes to exec_error_fd),
// reports to status_fd, obeys control_fd, and ends the tree when tcpleak is
// gone (EOF on control_fd). Never returns.
[[noreturn]] void run_keeper(const std::vector<std::string>& command, int gate_fd, int exec_error_fd, int control_fd,
                             int status_fd, pid_t foreground_group);

} // namespace tcpleak::keeper
