// Metric and label names. They are chosen by the programmer, never by the
// data, so a bad one is a bug: the require_* functions throw
// std::invalid_argument (cheap enough to keep in release builds, where an
// assert would vanish and a bad name would corrupt every scrape).
#pragma once

#include <string_view>

namespace tcpleak::metrics {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_metric_name(std::string_view name);

// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved by Prometheus).
bool is_valid_label_name(std::string_view name);

void require_metric_name(std::string_view name);
void require_label_name(std::string_view name);

} // namespace tcpleak::metrics
