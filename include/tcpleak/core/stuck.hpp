// Why one socket stays in a closing state, read from the socket itself: what
// `tcpleak leaks --state STATE...` prints for each socket past the threshold.
// Pure: the TCP-table record, its holders, the leak tracker's verdict and the
// sysctls of its network namespace are passed in.
//
// What the kernel does, in short (docs/stuck-states.md has the long form):
//   - FIN_WAIT1, LAST_ACK, CLOSING wait for the peer to acknowledge our FIN.
//     While the peer's window is 0 the FIN (and data before it) waits unsent
//     and the kernel probes the window: a socket a descriptor holds stays as
//     long as the peer answers (tcp_retries2 unanswered probes end it); an
//     orphan ends after tcp_orphan_retries unanswered probes (0 means 8), or
//     once the probes are 120 s apart even if the peer answers (about 5.5
//     minutes at a 200 ms RTO), or at once beyond tcp_max_orphans. A FIN that
//     is retransmitted without an answer ends after tcp_retries2
//     retransmissions (held) or tcp_orphan_retries (orphaned), counted as the
//     time of that many backed-off retransmissions from 200 ms.
//   - FIN_WAIT2 waits for the peer's FIN. Orphaned, it ends tcp_fin_timeout
//     after the close (in a time-wait socket with substate FIN_WAIT2 when the
//     timeout is 60 s or less); held (the program called shutdown(SHUT_WR)
//     and kept the descriptor), nothing ends it.
//   - CLOSE_WAIT: the peer closed; only the program's close() ends it.
//   - TIME_WAIT: 60 s, fixed (tcp_fin_timeout does not apply).
// A socket a descriptor holds can only be in FIN_WAIT1, FIN_WAIT2, LAST_ACK
// or CLOSING through shutdown(SHUT_WR): close() of one copy among several
// sends nothing.
#pragma once

#include "tcpleak/core/explanation.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/sys/sysctl.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak {

// Which sockets a row of the text table is for.
enum class Holding : std::uint8_t { Any, Held, Orphaned };

// One row of the text table: the sentences, with {placeholders} filled in
// from the socket (see stuck.cpp, render()), and the sysctls they involve.
struct StuckText {
    StuckCause cause;
    Holding holding;
    std::string_view why;
    std::string_view hint;
    std::array<std::string_view, 2> sysctls; // names; empty views pad
};
// Every row, in the order docs/stuck-states.md lists them.
std::span<const StuckText> stuck_texts();

struct StuckContext {
    // The descriptors that hold it (pid, fd), as a descriptor scan found
    // them; empty: none found.
    std::span<const Holder> holders;
    // How long it has been in its state, a lower bound; nullopt: unknown
    // (then CLOSE_WAIT uses the TCP table's own age_ns).
    std::optional<std::uint64_t> in_state_ns;
    // CLOSE_WAIT held: the leak tracker's verdict (nullopt: Held).
    std::optional<Verdict> verdict;
    // Of the socket's network namespace (tcp_max_orphans: the initial one's).
    TcpSysctls sysctls;
};

StuckExplanation explain_stuck(const TcpSocket& socket, const StuckContext& context);

// One sentence of the table with its {placeholders} filled in from socket
// and context (an unknown placeholder stays as it is, braces and all).
std::string render_stuck_text(std::string_view pattern, const TcpSocket& socket, const StuckContext& context);

// The kernel's retry limits, as it applies them.
// tcp_orphan_retries 0 means 8 (while the retransmission timeout is below
// 120 s); unknown means the default, 0, so 8.
std::uint32_t effective_orphan_retries(std::optional<std::uint32_t> sysctl);
// How long after the first retransmission the kernel gives up after
// `retries` retransmissions: backed-off from 200 ms (TCP_RTO_MIN), doubling
// up to 120 s (TCP_RTO_MAX), as tcp_retransmit_timer() measures it (a
// TCP_USER_TIMEOUT replaces it). 15 -> 924.6 s, 8 -> 102.2 s.
std::uint64_t retransmission_give_up_ms(std::uint32_t retries);

} // namespace tcpleak
