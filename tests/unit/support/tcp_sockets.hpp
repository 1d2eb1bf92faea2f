// TCP table records in the shapes the census and stuck-state tests share.
#pragma once

#include "tcpleak/core/records.hpp"

namespace tcpleak::test {

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
