#include "tcpleak/output_buffer.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <system_error>
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
        CHECK_THROWS_AS(out.flush(), std::system_error);
        CHECK(out.buffer() == "x");
        CHECK_FALSE(out.closed());
        out.buffer().clear(); // nothing for the destructor
    }
    ::close(read_only);
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
