#include "tcpleak/signals.hpp"

#include <csignal>

namespace tcpleak {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int signal_number) { g_stop_signal = signal_number; }
} // namespace

void install_signal_handlers() {
    struct sigaction action{};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: interrupt epoll_wait
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

int stop_signal() { return g_stop_signal; }

void request_stop(int signal_number) { g_stop_signal = signal_number; }

} // namespace tcpleak
