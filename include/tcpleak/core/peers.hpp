// Both ends of a connection on one host: for a socket of the TCP table, the
// socket at the other end when it is on this host too - on loopback or any
// local address in the same network namespace, or in another namespace of
// this host (a veth pair, a bridge: containers, pods). A CLOSE_WAIT leak's
// peer is the FIN_WAIT2 it keeps waiting; a FIN_WAIT1 whose peer stopped
// reading names the process that stopped.
//
// Pairing: the peer of S is the socket whose local (address, port) is S's
// remote one and whose remote (address, port) is S's local one. Addresses
// are compared in one form, an IPv4 address as its v4-mapped IPv6 address,
// so a dual-stack listener's accepted IPv4 connection (::ffff:10.0.0.5 on
// its side) pairs with the IPv4 client (10.0.0.5). Where it may be:
//   - in S's own network namespace first: a connection to an address the
//     namespace owns stays in it;
//   - else in another namespace, unless the addresses are loopback ones
//     (127.0.0.0/8, ::1), which never leave a namespace.
// Several candidates in the first place that has any - namespaces reusing
// the same private addresses, a tuple reused while its old connection's
// TIME_WAIT lingers - are resolved only when exactly one is a live socket
// (not time-wait) and it names S back the same way; otherwise: no peer.
// Through NAT (a Kubernetes Service, docker's published ports without the
// userland proxy) the two ends' addresses differ: no peer either. Never a
// guess.
#pragma once

#include "tcpleak/core/cookie_index.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tcpleak {

struct LocalPeer {
    std::uint64_t cookie = 0;
    std::uint8_t state = 0;
    std::uint32_t netns = 0;
    bool same_netns = true;  // false: across namespaces of this host
    bool orphan = false;     // no file references it
    bool time_wait = false;
    bool request = false;
    std::optional<Holder> holder; // its first holder (lowest pid, then fd), when a descriptor holds it
    std::uint32_t holder_count = 0; // descriptor records that hold it (all processes)
    std::size_t index = 0;          // its position in the TCP snapshot
};

enum class PeerMiss : std::uint8_t {
    None,          // found
    UnknownSocket, // the cookie is not in the snapshot
    NotConnected,  // a listener, or no remote port
    NotLocal,      // no socket of the snapshot has the reversed addresses: the peer is on another
                   // host, behind NAT, already closed, or in a namespace not walked
    Ambiguous,     // several candidates: not guessed
    SelfConnected, // the socket is its own peer (a TCP self-connect)
};
std::string_view peer_miss_name(PeerMiss miss); // "none", "unknown_socket", ...

struct PeerLookup {
    std::optional<LocalPeer> peer;
    PeerMiss miss = PeerMiss::None;
};

// Built once per snapshot (linear time and memory: about 100 bytes a
// socket), then O(1) per look-up. It refers to the snapshot's spans, which
// must outlive it. `sockets` may concatenate every namespace's walk.
class PeerIndex {
public:
    PeerIndex(std::span<const TcpSocket> sockets, std::span<const SocketHolder> holders);

    PeerLookup find(std::uint64_t cookie) const;
    PeerLookup find_at(std::size_t index) const; // by position in the snapshot

    std::size_t memory_bytes() const;

private:
    struct First {
        std::uint32_t pid = 0;
        std::uint32_t fd = 0;
        std::uint32_t record = CookieIndex::kNone; // holder record, kNone: not held
        std::uint32_t count = 0;
    };
    struct Choice {
        std::uint32_t index = CookieIndex::kNone;
        PeerMiss miss = PeerMiss::None;
    };

    Choice choose(std::uint32_t i) const; // the candidate for socket i, before the mutual check
    LocalPeer describe(std::uint32_t peer, std::uint32_t of) const;

    std::span<const TcpSocket> sockets_;
    std::span<const SocketHolder> holders_;
    CookieIndex by_cookie_;            // cookie -> socket (the newer of duplicates)
    CookieIndex by_tuple_;             // hash of (local, remote) -> first socket of its chain
    std::vector<std::uint32_t> next_;  // per socket: the next socket of its tuple's chain
    std::vector<std::uint8_t> indexed_; // per socket: counted (not a superseded duplicate, not cookie 0)
    std::vector<First> first_;         // per socket: its first holder
};

} // namespace tcpleak
