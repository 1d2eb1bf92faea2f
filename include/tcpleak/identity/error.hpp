// What the identity library throws when it cannot start at all: one line that
// says what failed and on which path. Lookups never throw; they return nullopt.
#pragma once

#include <stdexcept>
#include <string>

namespace tcpleak::identity {

class IdentityError : public std::runtime_error {
public:
    explicit IdentityError(const std::string& what) : std::runtime_error(what) {}
};

} // namespace tcpleak::identity
