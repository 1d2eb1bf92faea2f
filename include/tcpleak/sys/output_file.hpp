// Report files (run's --json-report and --junit): tcpleak usually runs as
// root and is often pointed at a shared directory (/tmp, a CI workspace),
// so it must not be tricked into writing somewhere else, and a path that
// cannot take a report must fail before COMMAND runs, not after a soak test.
//
// The policy, for check_output_file and open_output_file alike:
//  - a symbolic link as the last component is followed only when its
//    directory is trusted: owned by root or by tcpleak's user and writable
//    by nobody else (/dev/stdout, /proc/self/fd/N). In a directory others
//    can write to, it may have been planted (/tmp/leaks.xml -> /etc/passwd):
//    refused, whatever fs.protected_symlinks says;
//  - kernel interfaces (procfs, sysfs, cgroupfs, debugfs, tracefs, ...) are
//    refused: /proc/version opens for writing as root and fails only when
//    written, and a sysctl would take the report as a setting;
//  - a file that refuses even an empty write (/dev/full) is refused.
// Errors are UserError: "cannot write PATH: why".
#pragma once

#include <string>

namespace tcpleak {

// Checks that a report could be written to path now, leaving nothing behind
// (a file it had to create is removed again). False when path's directory
// does not exist (yet): a command may create it before the report is
// written. Throws UserError when path cannot take a report.
bool check_output_file(const std::string& path);

// Opens path for writing, truncated (created 0644 when missing). Returns
// the descriptor (O_CLOEXEC); throws UserError.
int open_output_file(const std::string& path);

} // namespace tcpleak
