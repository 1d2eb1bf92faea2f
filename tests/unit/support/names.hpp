// Checks an enum's names, one CHECK per value.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <string_view>
#include <utility>

namespace tcpleak::test {

template <typename Enum, typename NameOf>
void check_names(NameOf name_of, std::initializer_list<std::pair<Enum, std::string_view>> expected) {
    for (const auto& [value, name] : expected) {
        INFO("expected: " << name);
        CHECK(name_of(value) == name);
    }
}

} // namespace tcpleak::test
