#include "tcpleak/session/leak_details.hpp"

#include "tcpleak/core/peers.hpp"
#include "tcpleak/core/stuck.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/sys/clock.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

namespace tcpleak {

namespace {

constexpr std::uint32_t kPeerStates = (1U << kTcpFinWait1) | (1U << kTcpFinWait2) | (1U << kTcpLastAck) |
                                      (1U << kTcpClosing) | (1U << kTcpCloseWait);

bool loopback(const SocketAddress& a) {
    if (a.family == kFamilyIpv4)
        return a.daddr[0] == 127;
    static const std::array<std::uint8_t, 16> kLoopback6 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const bool mapped = std::equal(a.daddr.begin(), a.daddr.begin() + 10, kLoopback6.begin()) && a.daddr[10] == 0xff &&
                        a.daddr[11] == 0xff;
    return a.daddr == kLoopback6 || (mapped && a.daddr[12] == 127);
}

// What the leak record says of the socket when the tables no longer had it
// (it left between the scan and now): enough for its explanation.
TcpSocket socket_of(const Leak& leak) {
    TcpSocket s;
    s.cookie = leak.cookie;
    s.family = leak.address.family;
    s.state = leak.state;
    s.orphan = leak.verdict == Verdict::Orphaned;
    s.sport = leak.address.sport;
    s.dport = leak.address.dport;
    s.saddr = leak.address.saddr;
    s.daddr = leak.address.daddr;
    s.netns = leak.address.netns;
    s.rx_queue = leak.rx_queue;
    return s;
}

std::optional<LeakPeer> peer_of(const PeerIndex& index, std::uint64_t cookie) {
    const PeerLookup found = index.find(cookie);
    if (!found.peer)
        return std::nullopt;
    return LeakPeer{found.peer->cookie, found.peer->state, found.peer->netns, found.peer->holder};
}

} // namespace

void LeakDetails::fill(std::span<Leak> leaks, std::span<const SocketHolder> holders) {
    if (leaks.empty())
        return;
    std::unordered_set<std::uint32_t> namespaces;
    bool may_cross = false;  // an address another namespace of this host may have
    bool stuck_other = false; // a state whose peer may be ESTABLISHED, which the scan did not read
    for (const Leak& leak : leaks) {
        namespaces.insert(leak.address.netns);
        may_cross |= !loopback(leak.address);
        // Their peer may not be reading, and so still ESTABLISHED.
        stuck_other |= leak.state == kTcpFinWait1 || leak.state == kTcpLastAck || leak.state == kTcpClosing;
    }
    if (may_cross) // the other end may be in any namespace of this host
        for (const std::uint32_t netns : scanner_.namespaces())
            namespaces.insert(netns);

    // Only the states a report or its peer can be in: the kernel filters
    // the walk, so a host's thousands of ESTABLISHED connections are not
    // copied out for every batch of reports - unless a FIN_WAIT1, LAST_ACK
    // or CLOSING is among them, whose peer may be ESTABLISHED (not reading).
    std::uint32_t states = kPeerStates;
    for (const Leak& leak : leaks)
        states |= 1U << leak.state;
    if (stuck_other) // and a LAST_ACK's or CLOSING's peer may be done: TIME_WAIT
        states |= (1U << kTcpEstablished) | (1U << kTcpTimeWait);
    std::vector<TcpSocket> sockets;
    std::unordered_map<std::uint32_t, TcpSysctls> sysctls;
    for (const std::uint32_t netns : namespaces) {
        if (auto table = scanner_.tcp_table(netns, states))
            sockets.insert(sockets.end(), table->begin(), table->end());
        if (auto values = scanner_.tcp_sysctls(netns))
            sysctls.emplace(netns, *values);
    }
    std::vector<SocketHolder> more;
    if (holders.empty()) {
        // No scan behind this report (a leak reported as it left its state,
        // or a caller whose scans see only some processes): read them.
        more = scanner_.holders_in_states(kPeerStates | (1U << kTcpEstablished));
        holders = more;
    } else if (stuck_other) {
        // A FIN_WAIT1 or LAST_ACK whose peer stopped reading: the peer is
        // ESTABLISHED, which the scan's states did not cover.
        more.assign(holders.begin(), holders.end());
        for (const SocketHolder& h : scanner_.holders_in_states(1U << kTcpEstablished))
            more.push_back(h);
        holders = more;
    }
    std::unordered_map<std::uint64_t, const TcpSocket*> by_cookie;
    by_cookie.reserve(sockets.size());
    for (const TcpSocket& s : sockets)
        by_cookie.emplace(s.cookie, &s);
    const PeerIndex peers(sockets, holders);

    for (Leak& leak : leaks) {
        const auto it = by_cookie.find(leak.cookie);
        if (it != by_cookie.end() && !leak.tcp)
            leak.tcp = *it->second;
        const TcpSocket socket = leak.tcp ? *leak.tcp : socket_of(leak);
        StuckContext context;
        context.holders = leak.holders;
        context.in_state_ns = sub_sat(leak.reported_mono_ns, leak.entered_mono_ns);
        if (leak.verdict != Verdict::Orphaned)
            context.verdict = leak.verdict;
        if (const auto values = sysctls.find(leak.address.netns); values != sysctls.end())
            context.sysctls = values->second;
        leak.explanation = explain_stuck(socket, context);
        leak.peer = peer_of(peers, leak.cookie);
    }
}

} // namespace tcpleak
