#include "names.hpp"

#include <algorithm>
#include <array>

namespace tcpleak::identity {

namespace {

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_lower_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }
char to_lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool all_lower_hex(std::string_view text) { return std::all_of(text.begin(), text.end(), is_lower_hex); }

bool is_uuid(std::string_view uid) {
    if (uid.size() != 36)
        return false;
    for (std::size_t i = 0; i < uid.size(); ++i) {
        const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_here ? uid[i] != '-' : !is_lower_hex(uid[i]))
            return false;
    }
    return true;
}

bool is_unit_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' ||
           c == '.' || c == '\\' || c == '@' || c == '-';
}

} // namespace

std::string_view without_suffix(std::string_view name, std::string_view suffix) {
    if (name.ends_with(suffix))
        name.remove_suffix(suffix.size());
    return name;
}

std::optional<std::array<std::string_view, 3>> split_three(std::string_view text, char separator) {
    const std::size_t first = text.find(separator);
    if (first == std::string_view::npos)
        return std::nullopt;
    const std::size_t second = text.find(separator, first + 1);
    if (second == std::string_view::npos || text.find(separator, second + 1) != std::string_view::npos)
        return std::nullopt;
    return std::array{text.substr(0, first), text.substr(first + 1, second - first - 1), text.substr(second + 1)};
}

bool is_container_id(std::string_view name) { return name.size() == 64 && all_lower_hex(name); }

std::optional<std::string> normalise_pod_uid(std::string_view uid) {
    if (uid.size() != 32 && uid.size() != 36)
        return std::nullopt; // also keeps the copy below small whatever the input
    std::string normal(uid);
    for (char& c : normal)
        c = c == '_' ? '-' : to_lower_ascii(c);
    if (is_uuid(normal) || (normal.size() == 32 && all_lower_hex(normal)))
        return normal;
    return std::nullopt;
}

bool is_dns_label(std::string_view name) {
    return !name.empty() && name.size() <= 63 && is_lower_alnum(name.front()) && is_lower_alnum(name.back()) &&
           std::all_of(name.begin(), name.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns_subdomain(std::string_view name) {
    if (name.empty() || name.size() > 253)
        return false;
    for (std::size_t start = 0;;) {
        const std::size_t dot = name.find('.', start);
        if (!is_dns_label(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
            return false;
        if (dot == std::string_view::npos)
            return true;
        start = dot + 1;
    }
}

bool is_process_unit_name(std::string_view name) {
    static constexpr std::array<std::string_view, 5> kSuffixes{".service", ".scope", ".socket", ".mount", ".swap"};
    if (name.size() > 255 || !std::all_of(name.begin(), name.end(), is_unit_name_char))
        return false;
    return std::any_of(kSuffixes.begin(), kSuffixes.end(), [&](std::string_view suffix) {
        return name.size() > suffix.size() && name.ends_with(suffix);
    });
}

} // namespace tcpleak::identity
