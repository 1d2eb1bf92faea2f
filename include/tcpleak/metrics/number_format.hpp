// Sample values as the text format spells them: integers exactly, doubles in
// the shortest form that reads back to the same double, and the special
// values as Prometheus writes them (+Inf, -Inf, NaN).
#pragma once

#include <cstdint>
#include <string>

namespace tcpleak::metrics {

void append_value(std::string& out, std::uint64_t value);
void append_value(std::string& out, std::int64_t value);
void append_value(std::string& out, double value);

} // namespace tcpleak::metrics
