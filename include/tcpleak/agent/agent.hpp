// tcpleak agent: leaks (as `tcpleak leaks` finds them) and a census of every
// TCP socket, served as Prometheus metrics until SIGTERM (docs/agent.md).
#pragma once

#include "tcpleak/cli/options.hpp"

namespace tcpleak {

// 0 after SIGTERM/SIGINT; throws UserError for what the user can fix (not
// root, --listen in use, --textfile not writable).
int run_agent(const AgentOptions& options);

} // namespace tcpleak
