// SIGINT/SIGTERM/SIGHUP end a run gracefully; SIGPIPE is ignored so a
// closed output pipe surfaces as EPIPE (and a quiet exit) instead of killing us.
#pragma once

namespace tcpleak {

// Installs the handlers (without SA_RESTART, so a blocking poll wakes up).
void install_signal_handlers();

// The signal that asked us to stop, or 0.
int stop_signal();
// The last stop signal came from the terminal (^C): it went to the whole
// foreground process group, children included.
bool stop_signal_from_terminal();
void request_stop(int signal_number);

} // namespace tcpleak
