#include "tcpleak/metrics/number_format.hpp"

#include <charconv>
#include <cmath>

namespace tcpleak::metrics {

namespace {

template <typename T>
void append_chars(std::string& out, T value) {
    char buffer[32]; // the longest double, "-2.2250738585072014e-308", has 24
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, static_cast<std::size_t>(result.ptr - buffer));
}

} // namespace

void append_value(std::string& out, std::uint64_t value) {
    append_chars(out, value);
}

void append_value(std::string& out, std::int64_t value) {
    append_chars(out, value);
}

void append_value(std::string& out, double value) {
    if (std::isnan(value))
        out.append("NaN");
    else if (std::isinf(value))
        out.append(value > 0 ? "+Inf" : "-Inf");
    else
        append_chars(out, value); // shortest round-trip form, "C" locale always
}

} // namespace tcpleak::metrics
