// Errors that end the program with a one-line message and a chosen exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace tcpleak {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitLeaks = 3;
// No leak found, but tcpleak could not watch everything (events lost for
// longer than the threshold before a reconciliation, a bound of the kernel
// side): "no leak" cannot be promised.
inline constexpr int kExitIncomplete = 4;

// A failure the user can act on: printed as "tcpleak: <what>", no stack trace.
class UserError : public std::runtime_error {
public:
    explicit UserError(const std::string& what, int exit_code = kExitError)
        : std::runtime_error(what), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

private:
    int exit_code_;
};

} // namespace tcpleak
