#include "tcpleak/sys/child_process.hpp"

#include "tcpleak/sys/errors.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace tcpleak;
using namespace std::chrono_literals;

namespace {

// A FIFO the command's processes write their pids to, one line each, once
// set up. The test holds it open read-write, so it never sees EOF between
// writers, and read(n) blocks until n pids came (10 s at most).
class PidFifo {
public:
    PidFifo() : path_("/tmp/tcpleak-unit-fifo-" + std::to_string(getpid())) {
        std::remove(path_.c_str());
        REQUIRE(mkfifo(path_.c_str(), 0600) == 0);
        fd_ = open(path_.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd_ >= 0);
    }
    ~PidFifo() {
        close(fd_);
        std::remove(path_.c_str());
    }
    const std::string& path() const { return path_; }

    std::vector<pid_t> read(std::size_t count) {
        std::vector<pid_t> pids;
        while (pids.size() < count) {
            pollfd pfd{fd_, POLLIN, 0};
            REQUIRE(poll(&pfd, 1, 10'000) == 1);
            char chunk[256];
            const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
            REQUIRE(n > 0);
            text_.append(chunk, static_cast<std::size_t>(n));
            for (std::size_t end; (end = text_.find('\n')) != std::string::npos; text_.erase(0, end + 1))
                pids.push_back(static_cast<pid_t>(std::stol(text_.substr(0, end))));
        }
        return pids;
    }

private:
    std::string path_;
    int fd_ = -1;
    std::string text_;
};

bool alive(pid_t pid) { return kill(pid, 0) == 0; }

} // namespace

TEST_CASE("COMMAND runs once released, its status comes back, and its parent is the keeper") {
    GatedChild child({"/bin/sh", "-c", "exit 7"});
    CHECK(child.pid() > 0);
    CHECK(child.parent_pid() > 0);
    CHECK(child.parent_pid() != getpid());
    CHECK_FALSE(child.poll_exit()); // held at the gate
    child.release();
    const int status = child.wait_exit();
    CHECK(WIFEXITED(status));
    CHECK(shell_exit_status(status) == 7);
    const EndedDescendants ended = child.end_descendants(100ms);
    CHECK(ended.total == 0);
    CHECK(ended.terminated == 0);
    CHECK(ended.killed == 0);
}

TEST_CASE("an exec failure is a UserError with the shell's status") {
    GatedChild child({"/nonexistent/command"});
    CHECK_THROWS_WITH_AS(child.release(), "cannot run /nonexistent/command: No such file or directory", UserError);
    CHECK(shell_exit_status(child.wait_exit()) == 127);
}

TEST_CASE("signals reach COMMAND") {
    GatedChild child({"/bin/sleep", "1000"});
    child.release();
    child.signal(SIGTERM);
    const int status = child.wait_exit();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    child.end_descendants(100ms);
}

TEST_CASE("descendants still running after COMMAND exited are ended: SIGTERM, then SIGKILL") {
    PidFifo fifo;
    // A background process, a setsid'd one, and one that ignores SIGTERM;
    // COMMAND exits at once.
    const std::string set_up = "echo $$ > \"$0\"; exec sleep 1000";
    GatedChild child({"/bin/sh", "-c",
                      "sh -c '" + set_up + "' \"$0\" & setsid sh -c '" + set_up + "' \"$0\" & "
                      "sh -c 'trap \"\" TERM; " + set_up + "' \"$0\" &",
                      fifo.path()});
    child.release();
    CHECK(shell_exit_status(child.wait_exit()) == 0);
    const std::vector<pid_t> pids = fifo.read(3);
    for (const pid_t pid : pids)
        CHECK(alive(pid));
    const EndedDescendants ended = child.end_descendants(300ms);
    CHECK(ended.total == 3);
    CHECK(ended.terminated == 3);
    CHECK(ended.killed == 1);
    for (const pid_t pid : pids)
        CHECK_FALSE(alive(pid)); // reaped by the keeper
}

TEST_CASE("kill_tree SIGKILLs COMMAND and all of its descendants") {
    PidFifo fifo;
    GatedChild child({"/bin/sh", "-c", "setsid sh -c 'echo $$ > \"$0\"; exec sleep 1000' \"$0\" & trap '' TERM INT; sleep 1000",
                      fifo.path()});
    child.release();
    const pid_t daemon = fifo.read(1).front();
    child.kill_tree();
    const int status = child.wait_exit();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    child.end_descendants(100ms);
    CHECK_FALSE(alive(daemon));
}

TEST_CASE("a GatedChild that goes away takes the tree with it") {
    PidFifo fifo;
    pid_t keeper = 0;
    pid_t daemon = 0;
    {
        GatedChild child({"/bin/sh", "-c", "setsid sh -c 'echo $$ > \"$0\"; exec sleep 1000' \"$0\" & sleep 1000",
                          fifo.path()});
        keeper = child.parent_pid();
        child.release();
        daemon = fifo.read(1).front();
    } // as when tcpleak is killed: the keeper sees EOF
    CHECK_FALSE(alive(daemon));
    CHECK_FALSE(alive(keeper)); // reaped
}

TEST_CASE("a COMMAND never released does not run") {
    const std::string marker = "/tmp/tcpleak-unit-ran-" + std::to_string(getpid());
    {
        GatedChild child({"/bin/sh", "-c", "echo ran > \"$0\"", marker});
    }
    CHECK(access(marker.c_str(), F_OK) != 0);
}
