// tcpleak-syscall-loop: the syscall tax on work that is none of tcpleak's
// business. Reads one byte from /dev/zero in a loop for --duration seconds
// and prints the mean nanoseconds per read(). While a syscall tracepoint is
// attached anywhere on the machine, every syscall takes the tracepoint slow
// path; this shows what that costs an unrelated process (scripts/bench --agent).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    double seconds = 2.0;
    if (argc == 3 && std::strcmp(argv[1], "--duration") == 0)
        seconds = std::atof(argv[2]);
    else if (argc != 1) {
        std::fprintf(stderr, "usage: tcpleak-syscall-loop [--duration SECONDS]\n");
        return 2;
    }
    const int fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || seconds <= 0) {
        std::perror("tcpleak-syscall-loop: /dev/zero");
        return 1;
    }
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    unsigned long long calls = 0;
    char byte;
    for (auto now = start; now < end; now = Clock::now()) // the clock is a vDSO call, not a syscall
        for (int i = 0; i < 1000; ++i, ++calls)
            if (::read(fd, &byte, 1) != 1)
                return 1;
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    std::printf("{\"calls\":%llu,\"ns_per_call\":%.1f}\n", calls, ns / static_cast<double>(calls));
    return 0;
}
