// Records of sockets in the shapes several tests share.
#pragma once

#include "tcpleak/core/records.hpp"

#include <cstdint>

namespace tcpleak::test {

// 127.0.0.1:sport -> 127.0.0.1:dport in the initial network namespace, for
// any record of a socket (SocketAddress, Transition, SocketHolder, TcpSocket).
template <typename Record>
void on_loopback(Record& r, std::uint16_t sport, std::uint16_t dport) {
    r.family = kFamilyIpv4;
    r.saddr = {127, 0, 0, 1};
    r.sport = sport;
    r.daddr = {127, 0, 0, 1};
    r.dport = dport;
    r.netns = 4026531840u;
}

// The peer stopped reading: its window is 0 with 2.8 MB and the FIN unsent,
// the probe timer running, as `ss -tanoie` showed a FIN_WAIT1 on this machine:
//   FIN-WAIT-1 0 2803713 ... timer:(persist,748ms,1) ino:0 ... backoff:2 ... notsent:2803713
inline TcpSocket with_zero_window(TcpSocket s) {
    s.tx_queue = 2'803'713;
    s.snd_wnd = 0;
    s.timer = TcpTimer::Probe;
    s.timer_left_ms = 748;
    s.probes_out = 1;
    s.backoff = 2;
    return s;
}

} // namespace tcpleak::test
