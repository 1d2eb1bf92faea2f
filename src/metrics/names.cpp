#include "tcpleak/metrics/names.hpp"

#include <stdexcept>
#include <string>

namespace tcpleak::metrics {

namespace {

bool is_letter_or_underscore(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Colons are allowed in metric names only (Prometheus keeps them for
// recording rules), never in label names.
bool is_name(std::string_view name, bool colon_allowed) {
    if (name.empty() || is_digit(name.front()))
        return false;
    for (char c : name)
        if (!is_letter_or_underscore(c) && !is_digit(c) && !(colon_allowed && c == ':'))
            return false;
    return true;
}

} // namespace

bool is_valid_metric_name(std::string_view name) {
    return is_name(name, true);
}

bool is_valid_label_name(std::string_view name) {
    return is_name(name, false) && !name.starts_with("__");
}

void require_metric_name(std::string_view name) {
    if (!is_valid_metric_name(name))
        throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
}

void require_label_name(std::string_view name) {
    if (!is_valid_label_name(name))
        throw std::invalid_argument("invalid label name \"" + std::string(name) + "\"");
}

} // namespace tcpleak::metrics
