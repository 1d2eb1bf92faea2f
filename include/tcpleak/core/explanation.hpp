// Why a socket is stuck, as every report of it carries it: a cause, one
// sentence on what happened, one on what to do, and the sysctls that govern
// it with their values. Made by core/stuck.hpp from the socket itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak {

enum class StuckCause : std::uint8_t {
    Unknown,               // not a closing state, or nothing to say
    PeerNotReading,        // FIN_WAIT1/LAST_ACK/CLOSING: the peer's window is 0, data and FIN wait unsent
    PeerGone,              // FIN_WAIT1/LAST_ACK: retransmitted, never acknowledged
    CannotSend,            // window open, nothing in flight, the probe timer runs: sending fails locally
    SendQueueDraining,     // FIN_WAIT1: the FIN waits behind data still being delivered
    AwaitingFinAck,        // FIN sent, not acknowledged yet, no retransmission so far
    HalfClosedNeverClosed, // FIN_WAIT2 a descriptor holds: shutdown(SHUT_WR), never close()
    OrphanFinTimeout,      // FIN_WAIT2 orphaned: reaped after tcp_fin_timeout
    NeverClosed,           // CLOSE_WAIT: no close() of any of its descriptors
    ClosedStillReferenced, // CLOSE_WAIT: a descriptor was closed, another holds it
    CloseWaitHeld,         // CLOSE_WAIT held, its history not watched: closed or not is unknown
    NotAccepted,           // in a listener's accept queue, never accept()ed
    NoDescriptor,          // a file references it, no descriptor table does
    Closing,               // CLOSING: simultaneous close, the ACK of our FIN outstanding
    TimeWait,              // TIME_WAIT: normal, 60 s
};
// "peer_not_reading", "peer_gone", ... (the names of the text table)
std::string_view stuck_cause_name(StuckCause cause);

struct SysctlValue {
    std::string_view name;              // "tcp_fin_timeout"
    std::optional<std::uint32_t> value; // nullopt: not known
    friend bool operator==(const SysctlValue&, const SysctlValue&) = default;
};

struct StuckExplanation {
    StuckCause cause = StuckCause::Unknown;
    bool orphaned = false;            // no file references it: the kernel finishes it alone
    std::string why;                  // one sentence, with the socket's numbers
    std::string hint;                 // one sentence a person can act on
    std::vector<SysctlValue> sysctls; // the sysctls that govern it, with their values
};

} // namespace tcpleak
