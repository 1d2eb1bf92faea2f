#include "tcpleak/sys/signals.hpp"

#include <csignal>

namespace tcpleak {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_stop_from_terminal = 0;

void on_stop_signal(int signal_number, siginfo_t* info, void*) {
    g_stop_signal = signal_number;
    // The terminal's ^C comes from the kernel (SI_KERNEL); kill() is SI_USER.
    g_stop_from_terminal = info != nullptr && info->si_code == SI_KERNEL;
}
} // namespace

void install_signal_handlers() {
    struct sigaction action{};
    action.sa_sigaction = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO; // no SA_RESTART: interrupt epoll_wait
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    // A closed terminal or a supervisor's hangup: stop like SIGTERM, with the
    // summary and run's report (it killed tcpleak silently, exit 129).
    sigaction(SIGHUP, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

int stop_signal() { return g_stop_signal; }

bool stop_signal_from_terminal() { return g_stop_from_terminal != 0; }

void request_stop(int signal_number) {
    g_stop_signal = signal_number;
    g_stop_from_terminal = 0;
}

} // namespace tcpleak
