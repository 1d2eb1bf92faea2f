#include "tcpleak/core/tcp_state.hpp"

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

bool is_closing_state(std::uint8_t state) {
    switch (state) {
    case kTcpFinWait1:
    case kTcpFinWait2:
    case kTcpLastAck:
    case kTcpClosing:
    case kTcpCloseWait: return true;
    default: return false;
    }
}

std::uint32_t states_before(std::uint8_t state) {
    constexpr auto bit = [](std::uint8_t s) { return 1U << s; };
    switch (state) {
    case kTcpEstablished: return bit(kTcpSynSent) | bit(kTcpSynRecv);
    case kTcpSynSent: return bit(kTcpClose);
    case kTcpSynRecv: return bit(kTcpListen) | bit(kTcpSynSent);
    case kTcpFinWait1: return bit(kTcpEstablished) | bit(kTcpSynRecv);
    case kTcpFinWait2: return bit(kTcpFinWait1);
    case kTcpTimeWait: return bit(kTcpFinWait1) | bit(kTcpFinWait2) | bit(kTcpClosing);
    case kTcpCloseWait: return bit(kTcpEstablished) | bit(kTcpSynRecv);
    case kTcpLastAck: return bit(kTcpCloseWait);
    case kTcpListen: return bit(kTcpClose);
    case kTcpClosing: return bit(kTcpFinWait1);
    default: return 0xffffU & ~1U; // CLOSE and anything newer: from any state
    }
}

std::string_view never_reported_because(std::uint8_t state) {
    switch (state) {
    case kTcpTimeWait:
        return "a closing socket hands over to a separate time-wait socket; the kernel reports it as "
               "FIN_WAIT2 -> CLOSE or CLOSING -> CLOSE";
    case kTcpNewSynRecv:
        return "a connection request is a separate mini-socket; the kernel reports the connection "
               "from LISTEN -> SYN_RECV on";
    default: return {};
    }
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
