#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/signals.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

using namespace tcpleak;
using namespace tcpleak::test;

namespace {

// A line of known content, so reordering or duplication would show.
std::string numbered_lines(int count) {
    std::string text;
    for (int i = 0; i < count; ++i)
        text += "line " + std::to_string(i) + " of the test output\n";
    return text;
}

} // namespace

TEST_CASE("flush writes the buffer to the descriptor") {
    Pipe pipe;
    OutputBuffer out(pipe.write_end);
    out.buffer().append("hello\n");
    CHECK(out.flush());
    CHECK(out.buffer().empty());
    CHECK(pipe.read_some() == "hello\n");
    CHECK(out.flush()); // nothing to write
    CHECK_FALSE(out.closed());
}

TEST_CASE("maybe_flush waits for the threshold") {
    Pipe pipe;
    OutputBuffer out(pipe.write_end, 10);
    out.buffer().append("12345");
    out.maybe_flush();
    CHECK(out.buffer() == "12345");
    out.buffer().append("67890");
    out.maybe_flush();
    CHECK(out.buffer().empty());
    CHECK(pipe.read_some() == "1234567890");
}

TEST_CASE("the destructor flushes what is left") {
    Pipe pipe;
    {
        OutputBuffer out(pipe.write_end);
        out.buffer().append("last words\n");
    }
    CHECK(pipe.read_some() == "last words\n");
}

TEST_CASE("a reader that went away closes the output quietly (EPIPE)") {
    std::signal(SIGPIPE, SIG_IGN);
    Pipe pipe;
    pipe.close_read();
    OutputBuffer out(pipe.write_end);
    out.buffer().append("nobody reads this\n");
    CHECK_FALSE(out.flush());
    CHECK(out.closed());
    CHECK(out.buffer().empty());

    out.buffer().append(std::string(100'000, 'x')); // past the threshold
    out.maybe_flush();
    CHECK(out.buffer().empty());
    CHECK_FALSE(out.flush());
}

TEST_CASE("other write errors throw and keep the unwritten output") {
    const int read_only = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(read_only >= 0);
    {
        OutputBuffer out(read_only);
        out.buffer().append("x");
        CHECK_THROWS_WITH_AS(out.flush(), ("cannot write file descriptor " + std::to_string(read_only) +
                                           ": Bad file descriptor").c_str(),
                             UserError);
        CHECK(out.buffer() == "x");
        CHECK_FALSE(out.closed());
        out.buffer().clear(); // nothing for the destructor
    }
    ::close(read_only);
}

TEST_CASE("a full disk is a one-line error naming the output, never an internal error") {
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(full >= 0);
    {
        OutputBuffer out(full, 0, "leaks.xml");
        out.buffer().append("<testsuites/>\n");
        CHECK_THROWS_WITH_AS(out.flush(), "cannot write leaks.xml: No space left on device", UserError);
        out.buffer().clear();
    }
    // Standard output and error are called so.
    const int saved = ::dup(STDOUT_FILENO);
    REQUIRE(saved >= 0);
    REQUIRE(::dup2(full, STDOUT_FILENO) == STDOUT_FILENO);
    {
        OutputBuffer out(STDOUT_FILENO);
        out.buffer().append("{\"type\":\"start\"}\n");
        CHECK_THROWS_WITH_AS(out.flush(), "cannot write standard output: No space left on device", UserError);
        out.buffer().clear();
    }
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    ::close(full);
}

TEST_CASE("short writes and EAGAIN on a full non-blocking pipe lose nothing") {
    Pipe pipe;
    ::fcntl(pipe.write_end, F_SETPIPE_SZ, 4096); // small pipe: many short writes
    REQUIRE(::fcntl(pipe.write_end, F_SETFL, O_NONBLOCK) == 0);
    const std::string expected = numbered_lines(20'000); // ~600 KB

    std::string received;
    std::thread reader([&] {
        char chunk[1000];
        ssize_t n;
        while ((n = ::read(pipe.read_end, chunk, sizeof(chunk))) > 0) {
            received.append(chunk, static_cast<std::size_t>(n));
            if (received.size() % 7 == 0)
                std::this_thread::yield(); // let the writer run into a full pipe
        }
    });

    {
        OutputBuffer out(pipe.write_end, 64 * 1024);
        for (std::size_t at = 0; at < expected.size(); at += 40'000) {
            out.buffer().append(expected, at, 40'000);
            out.maybe_flush();
        }
        CHECK(out.flush());
    }
    ::close(pipe.write_end);
    pipe.write_end = -1;
    reader.join();
    CHECK(received.size() == expected.size());
    CHECK(received == expected);
}

TEST_CASE("a reader that went away is noticed with nothing to write (| head on a quiet machine)") {
    Pipe pipe;
    OutputBuffer out(pipe.write_end);
    CHECK(out.flush());
    pipe.close_read();
    CHECK_FALSE(out.flush()); // POLLERR on the write end, no write needed
    CHECK(out.closed());
}

TEST_CASE("a socket whose peer has gone is a vanished reader; /dev/null never is") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    {
        OutputBuffer out(pair[0]);
        CHECK(out.flush());
        ::close(pair[1]);
        CHECK_FALSE(out.flush());
    }
    ::close(pair[0]);

    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(null >= 0);
    {
        OutputBuffer out(null);
        CHECK(out.flush());
        CHECK_FALSE(out.closed());
    }
    ::close(null);
}

TEST_CASE("a regular file never looks like a vanished reader") {
    char path[] = "/tmp/tcpleak-output-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    {
        OutputBuffer out(fd);
        CHECK(out.flush());
        out.buffer().append("kept\n");
        CHECK(out.flush());
        CHECK_FALSE(out.closed());
    }
    ::close(fd);
}

namespace {

void stop_from_signal(int) { request_stop(SIGINT); }

// From construction until end(), SIGUSR1 every 5 ms to the constructing
// thread, whose handler requests a stop as tcpleak's do (no SA_RESTART): a
// write() there is interrupted whenever it blocks (the writer cannot say
// when it is blocked). The handler and the stop request are undone at the
// end of the scope.
class StopSignals {
public:
    StopSignals() {
        struct sigaction action{};
        action.sa_handler = stop_from_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART, as install_signal_handlers
        REQUIRE(::sigaction(SIGUSR1, &action, &previous_) == 0);
        interrupter_ = std::thread([this, writer = ::pthread_self()] {
            while (!done_.load()) {
                ::pthread_kill(writer, SIGUSR1);
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    }
    ~StopSignals() {
        end();
        request_stop(0);
        ::sigaction(SIGUSR1, &previous_, nullptr);
    }
    void end() {
        done_ = true;
        if (interrupter_.joinable())
            interrupter_.join();
    }

private:
    struct sigaction previous_{};
    std::atomic<bool> done_{false};
    std::thread interrupter_;
};

} // namespace

TEST_CASE("a stop signal gives up a write blocked on a reader that does not read") {
    Pipe pipe; // the read end stays open and is never read: write() blocks
    bool flushed = true;
    {
        StopSignals signals;
        OutputBuffer out(pipe.write_end);
        out.buffer().append(std::string(1 << 20, 'x')); // far more than a pipe holds
        flushed = out.flush();
        CHECK(out.closed());
        CHECK(out.buffer().empty());
    }
    CHECK_FALSE(flushed);
}

TEST_CASE("after a stop signal, a reader that keeps reading still gets everything") {
    // A pipeline under load: the reader is slow but reads. Giving up there
    // lost the summary of `leaks --json` stopped by SIGINT.
    Pipe pipe;
    const std::size_t size = 1 << 20; // many pipe buffers: the writer blocks again and again
    std::size_t received = 0;
    std::thread reader([&] {
        char chunk[16 * 1024];
        ssize_t n;
        while ((n = ::read(pipe.read_end, chunk, sizeof(chunk))) > 0) {
            received += static_cast<std::size_t>(n);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    bool flushed = false;
    {
        StopSignals signals;
        {
            OutputBuffer out(pipe.write_end);
            out.buffer().append(std::string(size, 'x'));
            flushed = out.flush();
            CHECK_FALSE(out.closed());
        }
        signals.end();
        ::close(pipe.write_end);
        pipe.write_end = -1;
        reader.join();
    }
    CHECK(flushed);
    CHECK(received == size);
}
