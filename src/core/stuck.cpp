#include "tcpleak/core/stuck.hpp"

#include "tcpleak/core/duration_text.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

namespace tcpleak {

namespace {

using enum StuckCause;

// Every sentence tcpleak says about a stuck socket. {name} is filled in by
// render() below; docs/stuck-states.md lists the same rows.
constexpr StuckText kTexts[] = {
    {PeerNotReading, Holding::Orphaned,
     "The program closed it{for}, but the peer stopped reading: {window}, so {queued} wait unsent while the kernel "
     "probes the window (next probe in {next}).",
     "Find why the peer stops reading; the kernel drops this socket after {orphan_retries} unanswered probes, once "
     "the probes are 120 s apart even if the peer answers (minutes), or at once beyond {max_orphans} orphans.",
     {"tcp_orphan_retries", "tcp_max_orphans"}},
    {PeerNotReading, Holding::Held,
     "The program shut down sending{for}, but the peer stopped reading: {window}, so {queued} wait unsent while the "
     "kernel probes the window (next probe in {next}).",
     "Find why the peer stops reading; while a descriptor holds it ({holders}) the kernel probes for as long as the "
     "peer answers ({retries2} unanswered probes end it), so close() it to bound the wait.",
     {"tcp_retries2", ""}},
    {CannotSend, Holding::Orphaned,
     "The program closed it{for}, but {queued} cannot be sent: the peer's window is open and nothing is in flight, "
     "so sending fails on this host.",
     "Check the interface and the route towards {remote} (ip route get, ip link): down or dropping; the kernel "
     "retries under the probe timer and gives up after {orphan_retries} failed attempts.",
     {"tcp_orphan_retries", "tcp_max_orphans"}},
    {CannotSend, Holding::Held,
     "The program shut down sending{for}, but {queued} cannot be sent: the peer's window is open and nothing is in "
     "flight, so sending fails on this host.",
     "Check the interface and the route towards {remote} (ip route get, ip link): down or dropping; the kernel "
     "retries under the probe timer and gives up after {retries2} failed attempts.",
     {"tcp_retries2", ""}},
    {PeerGone, Holding::Orphaned,
     "The program closed it{for} and the peer does not acknowledge: {retransmits} retransmissions of the current "
     "segment so far{next_clause}.",
     "The peer is gone or unreachable, nothing to fix in this program: the kernel gives up after {orphan_retries} "
     "retransmissions, {gives_up_orphan} after the first, sooner beyond {max_orphans} orphans.",
     {"tcp_orphan_retries", "tcp_max_orphans"}},
    {PeerGone, Holding::Held,
     "The program shut down sending{for} and the peer does not acknowledge: {retransmits} retransmissions of the "
     "current segment so far{next_clause}.",
     "The peer is gone or unreachable: the kernel resets it after {retries2} retransmissions, {gives_up_held} after "
     "the first (TCP_USER_TIMEOUT shortens that); close() the descriptor if nothing waits on it.",
     {"tcp_retries2", ""}},
    {SendQueueDraining, Holding::Any,
     "The FIN waits behind {unacked} bytes still being delivered{for}; the peer's window is open ({snd_wnd} bytes) "
     "and nothing needed a retransmission.",
     "Normal after a large last write on a slow path: it ends when the data is delivered.",
     {"", ""}},
    {AwaitingFinAck, Holding::Any,
     "The FIN is sent and not acknowledged yet{for}, without a retransmission so far.",
     "Normal for up to a round trip; if it stays, the next look shows retransmissions or probes.",
     {"", ""}},
    {HalfClosedNeverClosed, Holding::Held,
     "The program shut down sending with shutdown(SHUT_WR){for} and kept the descriptor, held by {holders}; the "
     "peer has not closed its side, and no timer ends a FIN_WAIT2 that a descriptor holds.",
     "close() the descriptor after shutdown() when the peer's end of file does not come (a read timeout), and look "
     "at the peer: its side is in CLOSE_WAIT.",
     {"", ""}},
    {OrphanFinTimeout, Holding::Orphaned,
     "The program closed it and the peer acknowledged, but the peer has not closed its side{for}; the kernel drops "
     "it {fin_timeout} after the close{left}.",
     "Harmless in small numbers: the peer does not close (its socket is in CLOSE_WAIT; on this host, tcpleak leaks "
     "names its holder); a lower tcp_fin_timeout shortens the wait.",
     {"tcp_fin_timeout", ""}},
    {NeverClosed, Holding::Held,
     "The peer closed its side{for} and no descriptor of it was ever closed: it is held by {holders}.",
     "The program never called close() after read() returned 0: call close() on every path after end of file, "
     "error paths included.",
     {"", ""}},
    {ClosedStillReferenced, Holding::Held,
     "A descriptor of it was closed, but another still holds it{for}, so the connection cannot finish: it is held by "
     "{holders}.",
     "Close every copy: the dup(), the one a fork()ed child inherited (SOCK_CLOEXEC, or close it in the process "
     "that does not use it), or one passed over a unix socket.",
     {"", ""}},
    {CloseWaitHeld, Holding::Held,
     "The peer closed its side{for} and it is held by {holders}; tcpleak did not watch it enter CLOSE_WAIT, so "
     "whether a copy was closed is not known.",
     "Call close() on every path after read() returns 0; if the program does, look for copies in fork()ed children "
     "and dup()s.",
     {"", ""}},
    {NotAccepted, Holding::Orphaned,
     "The connection to port {port} is complete but the program has not accept()ed it: it waits in the listener's "
     "accept queue in {state}{for}.",
     "The program accepts too slowly or not at all on port {port}: check its accept loop, and that it still polls "
     "the listening descriptor.",
     {"", ""}},
    {NoDescriptor, Holding::Held,
     "A file references it, but no process's descriptor table does{for}: it is in flight over a unix socket, kept "
     "by io_uring or a kernel user, or was accepted or closed while tcpleak looked.",
     "Look again: if it stays, find the process that should receive it over a unix socket, or the kernel user (NFS, "
     "iSCSI) of the connection.",
     {"", ""}},
    {Closing, Holding::Orphaned,
     "Both ends closed at the same time{for}: the peer's FIN arrived, the acknowledgment of ours has not "
     "({retransmits} retransmissions so far).",
     "Normally over within a round trip; if it stays the peer stopped answering, and the kernel gives up after "
     "{orphan_retries} retransmissions, {gives_up_orphan} after the first.",
     {"tcp_orphan_retries", "tcp_max_orphans"}},
    {Closing, Holding::Held,
     "Both ends shut down sending at the same time{for}: the peer's FIN arrived, the acknowledgment of ours has not "
     "({retransmits} retransmissions so far).",
     "Normally over within a round trip; if it stays the peer stopped answering, and the kernel gives up after "
     "{retries2} retransmissions, {gives_up_held} after the first.",
     {"tcp_retries2", ""}},
    {TimeWait, Holding::Orphaned,
     "Normal: the side that closed first keeps the connection's addresses for 60 s, fixed ({next} left), so that "
     "its late segments are not taken for a new connection.",
     "Harmless unless local ports run out: tcp_tw_reuse lets new outgoing connections reuse them (now {tw_reuse}), "
     "and beyond {max_tw_buckets} closing sockets skip TIME_WAIT; reuse connections (keep-alive, pools) rather than "
     "lower limits.",
     {"tcp_tw_reuse", "tcp_max_tw_buckets"}},
    {Unknown, Holding::Any,
     "{state} is not a state a connection stays in after a close.",
     "Nothing to explain: tcpleak explains FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, CLOSE_WAIT and TIME_WAIT.",
     {"", ""}},
};

constexpr std::uint64_t kRtoMinMs = 200;     // TCP_RTO_MIN
constexpr std::uint64_t kRtoMaxMs = 120'000; // TCP_RTO_MAX
constexpr std::uint32_t kDefaultRetries2 = 15;

// ---- the facts, read once ----

bool sends_fin_state(std::uint8_t state) {
    return state == kTcpFinWait1 || state == kTcpLastAck || state == kTcpClosing;
}

bool queued_state(std::uint8_t state) {
    return state == kTcpEstablished || state == kTcpSynRecv || state == kTcpCloseWait;
}

// Whether a file keeps it: the kernel's orphan flag, except that a queued
// socket a descriptor names was accepted since the TCP table was read (a
// socket's life only goes forward: census.hpp).
bool is_orphaned(const TcpSocket& s, const StuckContext& c) {
    if (s.time_wait || s.request)
        return true;
    if (s.orphan && queued_state(s.state) && !c.holders.empty())
        return false;
    return s.orphan;
}

// Why a socket that sends or has sent its FIN does not finish. The probe
// timer runs when data (or the FIN) waits and nothing is in flight: the
// window is too small for the next segment (0, or less than what waits),
// or, with room for everything that waits, sending failed on this host.
// (A local failure with more queued than the window holds reads as a slow
// reader: the record cannot tell them apart.)
StuckCause sending_cause(const TcpSocket& s) {
    const bool data_queued = s.tx_queue > 1; // write_seq - snd_una counts the FIN as one byte
    if (s.snd_wnd == 0 && (data_queued || s.timer == TcpTimer::Probe))
        return PeerNotReading;
    if (s.timer == TcpTimer::Probe)
        return s.snd_wnd < s.tx_queue ? PeerNotReading : CannotSend;
    if (s.state == kTcpClosing)
        return Closing;
    if (s.retransmits > 0)
        return PeerGone;
    if (s.state == kTcpFinWait1 && data_queued)
        return SendQueueDraining;
    return AwaitingFinAck;
}

StuckCause close_wait_cause(const StuckContext& c, bool orphaned) {
    if (orphaned)
        return NotAccepted;
    if (c.holders.empty())
        return NoDescriptor;
    switch (c.verdict.value_or(Verdict::Held)) {
    case Verdict::NeverClosed: return NeverClosed;
    case Verdict::ClosedStillReferenced: return ClosedStillReferenced;
    case Verdict::Held:
    case Verdict::Orphaned: return CloseWaitHeld; // CLOSE_WAIT is never reported orphaned
    }
    return CloseWaitHeld;
}

StuckCause cause_of(const TcpSocket& s, const StuckContext& c, bool orphaned) {
    if (s.request)
        return Unknown;
    if (s.time_wait)
        return s.state == kTcpFinWait2 ? OrphanFinTimeout : TimeWait;
    if (s.state == kTcpCloseWait)
        return close_wait_cause(c, orphaned);
    if (s.state == kTcpFinWait2)
        return orphaned ? OrphanFinTimeout : HalfClosedNeverClosed;
    if (sends_fin_state(s.state))
        return sending_cause(s);
    if (orphaned && queued_state(s.state))
        return NotAccepted;
    return Unknown;
}

const StuckText& text_for(StuckCause cause, bool orphaned) {
    const Holding wanted = orphaned ? Holding::Orphaned : Holding::Held;
    for (const StuckText& row : kTexts)
        if (row.cause == cause && (row.holding == Holding::Any || row.holding == wanted))
            return row;
    // A cause whose row is for the other holding (e.g. a time-wait
    // socket is always orphaned): its only row.
    for (const StuckText& row : kTexts)
        if (row.cause == cause)
            return row;
    return kTexts[std::size(kTexts) - 1];
}

// ---- rendering ----

// The style of output's format_duration_short, at millisecond resolution:
// "350ms", "2.5s", "12.3s", "2m03s", "1h02m", "3d04h"; truncated.
std::string format_ms(std::uint64_t ms) {
    constexpr std::uint64_t s = 1000, minute = 60 * s;
    std::string out;
    if (ms < s) {
        out = std::to_string(ms) + "ms";
    } else if (ms < minute) {
        const std::uint64_t tenths = ms / 100;
        out = std::to_string(tenths / 10);
        if (tenths % 10 != 0)
            out += "." + std::to_string(tenths % 10);
        out += 's';
    } else {
        append_minutes_and_up(out, ms, s);
    }
    return out;
}

std::string address(const TcpSocket& s) {
    char text[INET6_ADDRSTRLEN] = {};
    const int family = s.family == kFamilyIpv6 ? AF_INET6 : AF_INET;
    if (!inet_ntop(family, s.daddr.data(), text, sizeof(text)))
        return "the peer";
    const std::string port = std::to_string(s.dport);
    return family == AF_INET6 ? "[" + std::string(text) + "]:" + port : std::string(text) + ":" + port;
}

std::string holders_text(std::span<const Holder> holders) {
    if (holders.empty())
        return "a file that no descriptor table shows";
    constexpr std::size_t kNamed = 3;
    std::string out;
    const std::size_t named = std::min(holders.size(), kNamed);
    for (std::size_t k = 0; k < named; ++k) {
        if (k > 0)
            out += k + 1 == named && holders.size() <= kNamed ? " and " : ", ";
        out += "pid " + std::to_string(holders[k].pid) + " fd " + std::to_string(holders[k].fd);
    }
    if (holders.size() > kNamed)
        out += " and " + std::to_string(holders.size() - kNamed) + " more";
    return out;
}

std::string queued_text(const TcpSocket& s) {
    return s.tx_queue > 1 ? std::to_string(s.tx_queue - 1) + " bytes and the FIN" : "the FIN";
}

std::optional<std::uint64_t> time_in_state(const TcpSocket& s, const StuckContext& c) {
    if (c.in_state_ns)
        return c.in_state_ns;
    if (s.state == kTcpCloseWait && !s.time_wait && !s.request)
        return s.age_ns;
    return std::nullopt;
}

std::string orphan_retries_text(std::optional<std::uint32_t> v) {
    if (!v)
        return "tcp_orphan_retries (0 means 8)";
    return std::to_string(effective_orphan_retries(v)) + " (tcp_orphan_retries=" + std::to_string(*v) + ")";
}

std::string retries2_text(std::optional<std::uint32_t> v) {
    return v ? std::to_string(*v) + " (tcp_retries2)" : "tcp_retries2 (default 15)";
}

std::string tw_reuse_text(std::optional<std::uint32_t> v) {
    if (!v)
        return "not known";
    switch (*v) {
    case 0: return "0, off";
    case 1: return "1, on";
    case 2: return "2, loopback only";
    default: return std::to_string(*v);
    }
}

std::string value(std::string_view name, const TcpSocket& s, const StuckContext& c) {
    const TcpSysctls& k = c.sysctls;
    if (name == "for") {
        const auto t = time_in_state(s, c);
        return t ? " for at least " + format_ms(*t / 1'000'000) : "";
    }
    if (name == "queued")
        return queued_text(s);
    if (name == "unacked")
        return std::to_string(s.tx_queue > 0 ? s.tx_queue - 1 : 0);
    if (name == "snd_wnd")
        return std::to_string(s.snd_wnd);
    if (name == "window")
        return s.snd_wnd == 0 ? "its receive window is 0"
                              : "its receive window, " + std::to_string(s.snd_wnd) + " bytes, is too small for the next segment";
    if (name == "next")
        return format_ms(s.timer_left_ms);
    if (name == "next_clause")
        return s.timer == TcpTimer::None ? "" : ", the next in " + format_ms(s.timer_left_ms);
    if (name == "left")
        return s.timer == TcpTimer::None ? "" : " (" + format_ms(s.timer_left_ms) + " left)";
    if (name == "retransmits")
        return std::to_string(s.retransmits);
    if (name == "holders")
        return holders_text(c.holders);
    if (name == "port")
        return std::to_string(s.sport);
    if (name == "remote")
        return address(s);
    if (name == "state") {
        const std::string_view state = tcp_state_name(s.state);
        return state.empty() ? "state " + std::to_string(s.state) : std::string(state);
    }
    if (name == "orphan_retries")
        return orphan_retries_text(k.orphan_retries);
    if (name == "retries2")
        return retries2_text(k.retries2);
    if (name == "max_orphans")
        return k.max_orphans ? std::to_string(*k.max_orphans) + " (tcp_max_orphans)" : "tcp_max_orphans";
    if (name == "fin_timeout")
        return k.fin_timeout_s ? std::to_string(*k.fin_timeout_s) + "s (tcp_fin_timeout)" : "tcp_fin_timeout (default 60s)";
    if (name == "tw_reuse")
        return tw_reuse_text(k.tw_reuse);
    if (name == "max_tw_buckets")
        return k.max_tw_buckets ? std::to_string(*k.max_tw_buckets) + " (tcp_max_tw_buckets)" : "tcp_max_tw_buckets";
    if (name == "gives_up_orphan")
        return "about " + format_ms(retransmission_give_up_ms(effective_orphan_retries(k.orphan_retries)));
    if (name == "gives_up_held")
        return "about " + format_ms(retransmission_give_up_ms(k.retries2.value_or(kDefaultRetries2)));
    return "{" + std::string(name) + "}"; // a placeholder without a value: visible, and caught by the tests
}

std::string render(std::string_view pattern, const TcpSocket& s, const StuckContext& c) {
    std::string out;
    out.reserve(pattern.size() + 32);
    for (std::size_t at = 0; at < pattern.size();) {
        const std::size_t open = pattern.find('{', at);
        if (open == std::string_view::npos) {
            out.append(pattern.substr(at));
            break;
        }
        const std::size_t close = pattern.find('}', open);
        out.append(pattern.substr(at, open - at));
        out += value(pattern.substr(open + 1, close - open - 1), s, c);
        at = close + 1;
    }
    return out;
}

} // namespace

std::string_view stuck_cause_name(StuckCause cause) {
    switch (cause) {
    case Unknown: return "unknown";
    case PeerNotReading: return "peer_not_reading";
    case PeerGone: return "peer_gone";
    case CannotSend: return "cannot_send";
    case SendQueueDraining: return "send_queue_draining";
    case AwaitingFinAck: return "awaiting_fin_ack";
    case HalfClosedNeverClosed: return "half_closed_never_closed";
    case OrphanFinTimeout: return "orphan_fin_timeout";
    case NeverClosed: return "never_closed";
    case ClosedStillReferenced: return "closed_still_referenced";
    case CloseWaitHeld: return "close_wait_held";
    case NotAccepted: return "not_accepted";
    case NoDescriptor: return "no_descriptor";
    case Closing: return "closing";
    case TimeWait: return "time_wait";
    }
    return "unknown";
}

std::string render_stuck_text(std::string_view pattern, const TcpSocket& socket, const StuckContext& context) {
    return render(pattern, socket, context);
}

std::span<const StuckText> stuck_texts() {
    return kTexts;
}

std::uint32_t effective_orphan_retries(std::optional<std::uint32_t> sysctl) {
    const std::uint32_t retries = sysctl.value_or(0);
    return retries == 0 ? 8 : retries;
}

std::uint64_t retransmission_give_up_ms(std::uint32_t retries) {
    // Doubling from TCP_RTO_MIN until TCP_RTO_MAX (9 doublings: 200 ms * 2^9
    // = 102.4 s), then TCP_RTO_MAX each (the kernel's tcp_model_timeout()).
    constexpr std::uint32_t kDoublings = 9;
    if (retries <= kDoublings)
        return ((std::uint64_t{2} << retries) - 1) * kRtoMinMs;
    return ((std::uint64_t{2} << kDoublings) - 1) * kRtoMinMs + (retries - kDoublings) * kRtoMaxMs;
}

StuckExplanation explain_stuck(const TcpSocket& socket, const StuckContext& context) {
    StuckExplanation e;
    e.orphaned = is_orphaned(socket, context);
    e.cause = cause_of(socket, context, e.orphaned);
    const StuckText& text = text_for(e.cause, e.orphaned);
    e.why = render(text.why, socket, context);
    e.hint = render(text.hint, socket, context);
    for (std::string_view name : text.sysctls)
        if (!name.empty())
            e.sysctls.push_back({name, tcp_sysctl(context.sysctls, name)});
    return e;
}

} // namespace tcpleak
