// The names of an enum's values, written as one table per enum: what the
// records, the outputs and the help text call each value.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace tcpleak {

template <typename Enum>
struct EnumName {
    Enum value;
    std::string_view name;
};

// The name of value in table, or fallback for a value the table lacks.
template <typename Enum, std::size_t N>
constexpr std::string_view name_in(const std::array<EnumName<Enum>, N>& table, Enum value,
                                   std::string_view fallback) {
    for (const EnumName<Enum>& entry : table)
        if (entry.value == value)
            return entry.name;
    return fallback;
}

} // namespace tcpleak
