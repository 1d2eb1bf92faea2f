// The subcommands. Each returns the process exit status; bad environments
// throw UserError.
#pragma once

#include "tcpleak/cli/options.hpp"

namespace tcpleak {

int run_trace(const TraceOptions& options);
int run_leaks(const LeaksOptions& options);
int run_run(const RunOptions& options);
int run_top(const TopOptions& options);

} // namespace tcpleak
