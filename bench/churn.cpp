// tcpleak-churn: loopback TCP connection churn, the load of the benchmark.
//
// Server and clients are separate processes (fork). For every connection:
//   client connect() -> server accept() -> server close() (active close)
//   -> client read() sees EOF -> client close() (passive close).
// That is ~10 TCP state transitions per connection:
//   client: CLOSE->SYN_SENT->ESTABLISHED->CLOSE_WAIT->LAST_ACK->CLOSE
//   server: LISTEN->SYN_RECV->ESTABLISHED->FIN_WAIT1->FIN_WAIT2->CLOSE
// The server side (active closer) keeps the TIME_WAIT, so the client's
// ephemeral ports are free again as soon as the client socket is closed.
//
// The processes share one page of counters (MAP_SHARED); the parent only
// coordinates: it waits for the children, lets them warm up, samples the
// counters at the start and at the end of the measured window, and stops them.
//
// Errors (ECONNREFUSED, EADDRNOTAVAIL, timeouts, ...) are counted, not fatal.
// Exit status: 0 ok, 1 setup/runtime failure, 2 usage error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kMaxProcs = 256;
constexpr int kBacklog = 65535; // clamped by net.core.somaxconn

struct Options {
    double duration = 10.0;
    std::uint64_t connections = 0; // > 0: measure until this many, instead of for duration
    double warmup = 1.0;
    double rate = 0.0; // connections/s over all clients; 0 = as fast as possible
    bool ipv6 = false;
    int port = 0;      // 0: ephemeral, chosen by bind()
    int clients = 1;
    bool json = false;
};

// Counter indices of a slot.
enum Counter : int { kOk = 0, kRefused, kAddrNotAvail, kReset, kTimeout, kOther, kCounters };
constexpr const char* kCounterNames[kCounters] = {"ok",         "ECONNREFUSED", "EADDRNOTAVAIL",
                                                  "ECONNRESET", "timeout",      "other"};

// One cache line per process: no false sharing between the writers.
struct alignas(64) Slot {
    std::atomic<std::uint64_t> n[kCounters];
};

struct Shared {
    std::atomic<int> ready;
    std::atomic<int> go;
    std::atomic<int> stop;
    std::atomic<int> setup_failed;
    Slot slot[kMaxProcs]; // clients first, then servers (server errors: accept)
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

volatile std::sig_atomic_t g_interrupted = 0;

[[noreturn]] void usage(int status) {
    std::fprintf(status == 0 ? stdout : stderr,
                 "Usage: tcpleak-churn [options]\n"
                 "Loopback TCP connection churn (server closes first, client reads EOF and closes).\n\n"
                 "  --duration SECONDS  measured time (default 10, decimals ok)\n"
                 "  --connections N     measure until N connections instead (e.g. for memory tests)\n"
                 "  --warmup SECONDS    time before measuring, not counted (default 1)\n"
                 "  --rate N            connections/s over all clients, 0 = max (default 0)\n"
                 "  --clients N         client processes (default 1); as many server processes\n"
                 "  --port N            listening port (default: ephemeral)\n"
                 "  --ipv6              use ::1 instead of 127.0.0.1\n"
                 "  --json              print one JSON line\n"
                 "  -h, --help          this help\n");
    std::exit(status);
}

[[noreturn]] void bad_value(std::string_view opt, std::string_view value) {
    std::fprintf(stderr, "tcpleak-churn: invalid value for %.*s: '%.*s'\n", int(opt.size()), opt.data(),
                 int(value.size()), value.data());
    std::exit(2);
}

double parse_double(std::string_view opt, const char* s, double min, double max) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !std::isfinite(v) || v < min || v > max) bad_value(opt, s);
    return v;
}

long parse_long(std::string_view opt, const char* s, long min, long max) {
    std::string_view sv(s);
    long v = 0;
    auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
    if (ec != std::errc{} || p != sv.data() + sv.size() || v < min || v > max) bad_value(opt, s);
    return v;
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        const char* inline_value = nullptr;
        if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
            inline_value = argv[i] + eq + 1;
            a = a.substr(0, eq);
        }
        auto value = [&]() -> const char* {
            if (inline_value) return inline_value;
            if (i + 1 >= argc) {
                std::fprintf(stderr, "tcpleak-churn: %.*s needs a value\n", int(a.size()), a.data());
                std::exit(2);
            }
            return argv[++i];
        };
        auto no_value = [&] {
            if (inline_value) bad_value(a, inline_value);
        };
        if (a == "--duration") o.duration = parse_double(a, value(), 0.001, 1e7);
        else if (a == "--connections") o.connections = std::uint64_t(parse_long(a, value(), 1, 1'000'000'000'000));
        else if (a == "--warmup") o.warmup = parse_double(a, value(), 0.0, 1e7);
        else if (a == "--rate") o.rate = parse_double(a, value(), 0.0, 1e9);
        else if (a == "--clients") o.clients = int(parse_long(a, value(), 1, kMaxProcs / 2));
        else if (a == "--port") o.port = int(parse_long(a, value(), 0, 65535));
        else if (a == "--ipv6") no_value(), o.ipv6 = true;
        else if (a == "--json") no_value(), o.json = true;
        else if (a == "-h" || a == "--help") usage(0);
        else {
            std::fprintf(stderr, "tcpleak-churn: unknown argument '%s'\n", argv[i]);
            usage(2);
        }
    }
    return o;
}

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

void sleep_until_ns(std::uint64_t t) {
    timespec ts{time_t(t / 1'000'000'000u), long(t % 1'000'000'000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_interrupted) {
    }
}

void sleep_ns(std::uint64_t ns) { sleep_until_ns(now_ns() + ns); }

struct Address {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
};

Address loopback(bool ipv6, int port) {
    Address a;
    if (ipv6) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons(std::uint16_t(port));
        a.len = sizeof(sockaddr_in6);
        a.family = AF_INET6;
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s4->sin_port = htons(std::uint16_t(port));
        a.len = sizeof(sockaddr_in);
        a.family = AF_INET;
    }
    return a;
}

Counter classify(int err) {
    switch (err) {
    case ECONNREFUSED: return kRefused;
    case EADDRNOTAVAIL: return kAddrNotAvail;
    case ECONNRESET:
    case EPIPE: return kReset;
    case ETIMEDOUT:
    case EAGAIN: return kTimeout;
    default: return kOther;
    }
}

// Child setup common to clients and servers: die with the parent.
void child_prologue(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    std::signal(SIGINT, SIG_IGN); // the parent decides when to stop (Ctrl-C hits the whole group)
    std::signal(SIGPIPE, SIG_IGN);
}

// Report readiness and wait for the start signal.
void wait_for_go(Shared& sh) {
    sh.ready.fetch_add(1);
    while (!sh.go.load(std::memory_order_acquire)) {
        if (sh.stop.load(std::memory_order_relaxed)) _exit(0);
        usleep(200);
    }
}

[[noreturn]] void run_server(Shared& sh, Slot& slot, int listener, pid_t parent) {
    child_prologue(parent);
    wait_for_go(sh);
    for (;;) {
        int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR) continue;
            if (errno == ECONNABORTED) { // peer gave up before accept: the client counts that
                continue;
            }
            slot.n[classify(errno)].fetch_add(1, std::memory_order_relaxed);
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) usleep(1000);
            continue;
        }
        close(c); // the server closes first: FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT here
    }
}

[[noreturn]] void run_client(Shared& sh, Slot& slot, const Address& server, double rate_per_client,
                             pid_t parent) {
    child_prologue(parent);
    timeval rcv_timeout{5, 0}; // a lost server must not hang the client forever
    wait_for_go(sh);

    const std::uint64_t period = rate_per_client > 0 ? std::uint64_t(1e9 / rate_per_client) : 0;
    std::uint64_t next = now_ns();
    char buf[64];
    while (!sh.stop.load(std::memory_order_relaxed)) {
        if (period) {
            std::uint64_t t = now_ns();
            if (t + 1'000'000'000u < next || next + 1'000'000'000u < t) next = t; // re-sync, no bursts
            if (next > t) sleep_until_ns(next);
            next += period;
        }
        int fd = socket(server.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            slot.n[classify(errno)].fetch_add(1, std::memory_order_relaxed);
            usleep(1000);
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv_timeout, sizeof rcv_timeout);
        int err = 0;
        if (connect(fd, reinterpret_cast<const sockaddr*>(&server.ss), server.len) < 0) {
            err = errno;
        } else {
            for (;;) { // wait for the server's FIN
                ssize_t n = read(fd, buf, sizeof buf);
                if (n == 0) break;
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) {
                    err = errno;
                    break;
                }
                // unexpected data: keep reading until EOF
            }
        }
        close(fd); // passive close: CLOSE_WAIT -> LAST_ACK -> CLOSE
        if (err) {
            slot.n[classify(err)].fetch_add(1, std::memory_order_relaxed);
            if (err != ECONNRESET && err != EPIPE) usleep(1000); // avoid an error storm
        } else {
            slot.n[kOk].fetch_add(1, std::memory_order_relaxed);
        }
    }
    _exit(0);
}

struct Totals {
    std::uint64_t n[kCounters]{};
    std::uint64_t errors() const {
        std::uint64_t e = 0;
        for (int i = 1; i < kCounters; ++i) e += n[i];
        return e;
    }
};

Totals snapshot(const Shared& sh, int nprocs) {
    Totals t;
    for (int p = 0; p < nprocs; ++p)
        for (int i = 0; i < kCounters; ++i) t.n[i] += sh.slot[p].n[i].load(std::memory_order_relaxed);
    return t;
}

void on_signal(int) { g_interrupted = 1; }

} // namespace

int main(int argc, char** argv) {
    const Options opt = parse_args(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);

    void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        std::perror("tcpleak-churn: mmap");
        return 1;
    }
    auto& sh = *new (mem) Shared{};

    // Listener: loopback only, SO_REUSEADDR, big backlog, no SO_LINGER.
    Address bind_addr = loopback(opt.ipv6, opt.port);
    int listener = socket(bind_addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) {
        std::perror("tcpleak-churn: socket");
        return 1;
    }
    int one = 1;
    if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        std::perror("tcpleak-churn: SO_REUSEADDR");
        return 1;
    }
    if (bind(listener, reinterpret_cast<const sockaddr*>(&bind_addr.ss), bind_addr.len) < 0) {
        std::fprintf(stderr, "tcpleak-churn: bind %s port %d: %s\n", opt.ipv6 ? "::1" : "127.0.0.1", opt.port,
                     std::strerror(errno));
        return 1;
    }
    if (listen(listener, kBacklog) < 0) {
        std::perror("tcpleak-churn: listen");
        return 1;
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_len) < 0) {
        std::perror("tcpleak-churn: getsockname");
        return 1;
    }
    const int port = ntohs(opt.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    const Address server = loopback(opt.ipv6, port);

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const pid_t self = getpid();
    const int nclients = opt.clients;
    const int nservers = opt.clients;
    std::vector<pid_t> clients, servers;
    auto kill_all = [&](int sig) {
        for (pid_t p : clients) kill(p, sig);
        for (pid_t p : servers) kill(p, sig);
    };
    auto fork_failed = [&] {
        std::perror("tcpleak-churn: fork");
        sh.stop.store(1);
        kill_all(SIGKILL);
        while (wait(nullptr) > 0) {
        }
        return 1;
    };

    for (int s = 0; s < nservers; ++s) {
        pid_t p = fork();
        if (p < 0) return fork_failed();
        if (p == 0) run_server(sh, sh.slot[nclients + s], listener, self);
        servers.push_back(p);
    }
    // The clients do not need the listener; the servers keep it open.
    const double rate_per_client = opt.rate > 0 ? opt.rate / nclients : 0.0;
    for (int c = 0; c < nclients; ++c) {
        pid_t p = fork();
        if (p < 0) return fork_failed();
        if (p == 0) {
            close(listener);
            run_client(sh, sh.slot[c], server, rate_per_client, self);
        }
        clients.push_back(p);
    }
    close(listener);

    // Wait for all children to be ready (5 s at most).
    const std::uint64_t ready_deadline = now_ns() + 5'000'000'000u;
    while (sh.ready.load() < nclients + nservers) {
        if (now_ns() > ready_deadline || g_interrupted) {
            std::fprintf(stderr, "tcpleak-churn: %s\n",
                         g_interrupted ? "interrupted" : "child processes did not start in time");
            sh.stop.store(1);
            kill_all(SIGKILL);
            while (wait(nullptr) > 0) {
            }
            return 1;
        }
        usleep(200);
    }
    sh.go.store(1, std::memory_order_release);

    // A child that dies on its own before the end is a failure: check for it
    // while sleeping.
    bool child_died = false;
    auto sleep_checking = [&](double seconds, auto&& done) {
        const std::uint64_t end = now_ns() + std::uint64_t(seconds * 1e9);
        for (std::uint64_t t = now_ns(); t < end && !g_interrupted && !done(); t = now_ns()) {
            sleep_ns(std::min<std::uint64_t>(end - t, 50'000'000u));
            int status = 0;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p > 0) {
                std::fprintf(stderr, "tcpleak-churn: child %d exited early (status 0x%x)\n", int(p), status);
                child_died = true;
                return;
            }
        }
    };

    sleep_checking(opt.warmup, [] { return false; });
    const Totals c0 = snapshot(sh, nclients + nservers);
    const std::uint64_t t0 = now_ns();
    const auto enough = [&] {
        return opt.connections > 0 && snapshot(sh, nclients + nservers).n[kOk] - c0.n[kOk] >= opt.connections;
    };
    if (!child_died && !g_interrupted) sleep_checking(opt.connections > 0 ? 1e7 : opt.duration, enough);
    const std::uint64_t t1 = now_ns();
    const Totals c1 = snapshot(sh, nclients + nservers);

    // Stop: clients finish their current connection and exit; servers are
    // blocked in accept() and get killed.
    sh.stop.store(1);
    for (pid_t p : servers) kill(p, SIGKILL);
    const std::uint64_t stop_deadline = now_ns() + 3'000'000'000u;
    for (pid_t p : clients) {
        for (;;) {
            pid_t r = waitpid(p, nullptr, WNOHANG);
            if (r != 0) break;
            if (now_ns() > stop_deadline) {
                kill(p, SIGKILL);
                waitpid(p, nullptr, 0);
                break;
            }
            usleep(1000);
        }
    }
    while (wait(nullptr) > 0) {
    }
    const Totals all = snapshot(sh, nclients + nservers); // warmup and wind-down included

    if (g_interrupted) {
        std::fprintf(stderr, "tcpleak-churn: interrupted\n");
        return 130;
    }
    if (child_died) return 1;

    Totals d;
    for (int i = 0; i < kCounters; ++i) d.n[i] = c1.n[i] - c0.n[i];
    const double secs = double(t1 - t0) / 1e9;
    const std::uint64_t conns = d.n[kOk];
    const std::uint64_t errors = d.errors();
    const double rate = secs > 0 ? double(conns) / secs : 0.0;

    if (opt.json) {
        // total_connections: every connection completed, warmup and wind-down
        // included (what a tracer running around the churn should have seen).
        std::printf("{\"connections\":%llu,\"seconds\":%.3f,\"rate\":%.0f,\"errors\":%llu,"
                    "\"total_connections\":%llu}\n",
                    (unsigned long long)conns, secs, rate, (unsigned long long)errors,
                    (unsigned long long)all.n[kOk]);
    } else {
        std::printf("connections/s: %.0f  (%llu connections in %.2f s, %llu errors)\n", rate,
                    (unsigned long long)conns, secs, (unsigned long long)errors);
    }
    std::fflush(stdout);
    if (errors) {
        std::string detail;
        for (int i = 1; i < kCounters; ++i) {
            if (!d.n[i]) continue;
            if (!detail.empty()) detail += ", ";
            detail += kCounterNames[i];
            detail += ": " + std::to_string(d.n[i]);
        }
        std::fprintf(stderr, "tcpleak-churn: errors: %s\n", detail.c_str());
        if (d.n[kAddrNotAvail])
            std::fprintf(stderr, "tcpleak-churn: EADDRNOTAVAIL: ephemeral ports exhausted "
                                 "(see net.ipv4.ip_local_port_range, net.ipv4.tcp_tw_reuse)\n");
    }
    return 0;
}
