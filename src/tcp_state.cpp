#include "tcpleak/tcp_state.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <string>

namespace tcpleak {

namespace {
constexpr std::array<std::string_view, 13> kNames = {
    "",          "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
    "CLOSE",     "CLOSE_WAIT",  "LAST_ACK",   "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
};
} // namespace

std::string_view tcp_state_name(std::uint8_t state) {
    return state < kNames.size() ? kNames[state] : std::string_view{};
}

std::optional<std::uint8_t> parse_tcp_state(std::string_view text) {
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc{} && end == text.data() + text.size())
        return number >= 1 && number <= 15 ? std::optional<std::uint8_t>(number) : std::nullopt;

    std::string normalized;
    for (char c : text)
        normalized += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (std::size_t state = 1; state < kNames.size(); ++state)
        if (kNames[state] == normalized)
            return static_cast<std::uint8_t>(state);
    return std::nullopt;
}

} // namespace tcpleak
