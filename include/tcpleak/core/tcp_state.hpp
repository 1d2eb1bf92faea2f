// TCP state numbers as the kernel uses them (include/net/tcp_states.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tcpleak {

inline constexpr std::uint8_t kTcpEstablished = 1;
inline constexpr std::uint8_t kTcpSynSent = 2;
inline constexpr std::uint8_t kTcpSynRecv = 3;
inline constexpr std::uint8_t kTcpFinWait1 = 4;
inline constexpr std::uint8_t kTcpFinWait2 = 5;
inline constexpr std::uint8_t kTcpTimeWait = 6;
inline constexpr std::uint8_t kTcpClose = 7;
inline constexpr std::uint8_t kTcpCloseWait = 8;
inline constexpr std::uint8_t kTcpLastAck = 9;
inline constexpr std::uint8_t kTcpListen = 10;
inline constexpr std::uint8_t kTcpClosing = 11;
inline constexpr std::uint8_t kTcpNewSynRecv = 12;

// One slot per kernel state number (and a few spare): arrays indexed by state.
inline constexpr std::size_t kTcpStateSlots = 16;

// The states of a connection that one side has closed and that can stay for
// long: FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING and CLOSE_WAIT (TIME_WAIT
// ends by itself after 60 s, so it is not one of them).
bool is_closing_state(std::uint8_t state);

// Kernel name ("ESTABLISHED", "CLOSE_WAIT", ...), or empty for a state this
// build does not know (print the number instead).
std::string_view tcp_state_name(std::uint8_t state);

// The states a socket can be in just before it enters `state` (bit per
// state): what it takes to know how long a socket spent before that change.
std::uint32_t states_before(std::uint8_t state);

// Why the state-change tracepoint never reports `state` (TIME_WAIT and
// NEW_SYN_RECV live in separate mini-sockets), or empty when it does.
std::string_view never_reported_because(std::uint8_t state);

// Accepts kernel names in any case, with '-' or '_' ("close-wait",
// "CLOSE_WAIT", "Close_Wait"), and bare numbers 1..15.
std::optional<std::uint8_t> parse_tcp_state(std::string_view text);

} // namespace tcpleak
