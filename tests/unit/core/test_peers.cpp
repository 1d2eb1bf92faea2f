#include "tcpleak/core/peers.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include "support/names.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace tcpleak;

namespace {

constexpr std::uint32_t kHostNetns = 4026531840u;
constexpr std::uint32_t kPodA = 4026532513u;
constexpr std::uint32_t kPodB = 4026532601u;

using Address = std::array<std::uint8_t, 16>;

constexpr Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {a, b, c, d};
}

// ::ffff:a.b.c.d, as a dual-stack (AF_INET6) socket shows an IPv4 peer.
constexpr Address mapped(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

constexpr Address kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

TcpSocket sock(std::uint64_t cookie, std::uint8_t state, Address local, std::uint16_t lport, Address remote,
               std::uint16_t rport, std::uint32_t netns = kHostNetns, std::uint8_t family = kFamilyIpv4) {
    TcpSocket s;
    s.cookie = cookie;
    s.family = family;
    s.state = state;
    s.saddr = local;
    s.sport = lport;
    s.daddr = remote;
    s.dport = rport;
    s.netns = netns;
    return s;
}

SocketHolder holds(std::uint64_t cookie, std::uint32_t pid, const char* comm, std::uint32_t fd) {
    SocketHolder h;
    h.cookie = cookie;
    h.pid = pid;
    h.comm = make_comm(comm);
    h.fd = fd;
    return h;
}

} // namespace

TEST_CASE("peers: both ends of a loopback connection, with their holders") {
    // The README's trace: the server (2047) in CLOSE_WAIT, the client (2049)
    // closed and waiting in FIN_WAIT2.
    const std::vector<TcpSocket> sockets = {
        sock(61773770, kTcpListen, v4(127, 0, 0, 1), 45678, {}, 0),
        sock(61773771, kTcpCloseWait, v4(127, 0, 0, 1), 45678, v4(127, 0, 0, 1), 43198),
        sock(61773772, kTcpFinWait2, v4(127, 0, 0, 1), 43198, v4(127, 0, 0, 1), 45678),
    };
    const std::vector<SocketHolder> holders = {holds(61773770, 2047, "python3", 3), holds(61773771, 2047, "python3", 4),
                                               holds(61773772, 2049, "python3", 3), holds(61773771, 2050, "child", 4)};
    const PeerIndex index(sockets, holders);

    const PeerLookup of_server = index.find(61773771);
    REQUIRE(of_server.peer);
    CHECK(of_server.miss == PeerMiss::None);
    CHECK(of_server.peer->cookie == 61773772);
    CHECK(of_server.peer->state == kTcpFinWait2);
    CHECK(of_server.peer->same_netns);
    REQUIRE(of_server.peer->holder);
    CHECK(of_server.peer->holder->pid == 2049);
    CHECK(of_server.peer->holder->fd == 3);
    CHECK(comm_view(of_server.peer->holder->comm) == "python3");
    CHECK(of_server.peer->index == 2);

    const PeerLookup of_client = index.find(61773772);
    REQUIRE(of_client.peer);
    CHECK(of_client.peer->cookie == 61773771);
    CHECK(of_client.peer->holder->pid == 2047); // the lowest pid of its two holders
    CHECK(of_client.peer->holder_count == 2);

    CHECK(index.find(61773770).miss == PeerMiss::NotConnected); // a listener
    CHECK(index.find(12345).miss == PeerMiss::UnknownSocket);
    CHECK(index.find_at(99).miss == PeerMiss::UnknownSocket);
    CHECK(index.find_at(1).peer->cookie == 61773772);
}

TEST_CASE("peers: a dual-stack listener's IPv4 connection pairs ::ffff:a.b.c.d with a.b.c.d") {
    const std::vector<TcpSocket> sockets = {
        sock(10, kTcpEstablished, mapped(127, 0, 0, 1), 8080, mapped(127, 0, 0, 1), 50222, kHostNetns, kFamilyIpv6),
        sock(11, kTcpEstablished, v4(127, 0, 0, 1), 50222, v4(127, 0, 0, 1), 8080),
    };
    const PeerIndex index(sockets, {});
    REQUIRE(index.find(10).peer);
    CHECK(index.find(10).peer->cookie == 11);
    CHECK(index.find(11).peer->cookie == 10);
    CHECK_FALSE(index.find(11).peer->holder); // nobody holds it
}

TEST_CASE("peers: IPv6 loopback") {
    const std::vector<TcpSocket> sockets = {
        sock(20, kTcpFinWait1, kV6Loopback, 443, kV6Loopback, 39000, kHostNetns, kFamilyIpv6),
        sock(21, kTcpEstablished, kV6Loopback, 39000, kV6Loopback, 443, kHostNetns, kFamilyIpv6),
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(20).peer->cookie == 21);
    CHECK(index.find(21).peer->cookie == 20);
}

TEST_CASE("peers: across two network namespaces of this host (a veth pair)") {
    const std::vector<TcpSocket> sockets = {
        sock(30, kTcpLastAck, v4(10, 9, 0, 1), 40010, v4(10, 9, 0, 2), 58096, kHostNetns),
        sock(31, kTcpFinWait2, v4(10, 9, 0, 2), 58096, v4(10, 9, 0, 1), 40010, kPodA),
    };
    const std::vector<SocketHolder> holders = {holds(31, 91234, "java", 88)};
    const PeerIndex index(sockets, holders);
    const PeerLookup p = index.find(30);
    REQUIRE(p.peer);
    CHECK(p.peer->cookie == 31);
    CHECK_FALSE(p.peer->same_netns);
    CHECK(p.peer->netns == kPodA);
    CHECK(p.peer->holder->pid == 91234);
    CHECK(index.find(31).peer->cookie == 30);
}

TEST_CASE("peers: the same loopback connection in two pods pairs within each pod") {
    // Each pod talks to its own sidecar on 127.0.0.1:15001 with the same ports.
    const std::vector<TcpSocket> sockets = {
        sock(40, kTcpEstablished, v4(127, 0, 0, 1), 15001, v4(127, 0, 0, 1), 41000, kPodA),
        sock(41, kTcpEstablished, v4(127, 0, 0, 1), 41000, v4(127, 0, 0, 1), 15001, kPodA),
        sock(42, kTcpCloseWait, v4(127, 0, 0, 1), 15001, v4(127, 0, 0, 1), 41000, kPodB),
        sock(43, kTcpFinWait2, v4(127, 0, 0, 1), 41000, v4(127, 0, 0, 1), 15001, kPodB),
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(40).peer->cookie == 41);
    CHECK(index.find(41).peer->cookie == 40);
    CHECK(index.find(42).peer->cookie == 43);
    CHECK(index.find(43).peer->cookie == 42);
}

TEST_CASE("peers: loopback never crosses a namespace") {
    const std::vector<TcpSocket> sockets = {
        sock(50, kTcpEstablished, v4(127, 0, 0, 1), 6379, v4(127, 0, 0, 1), 52000, kPodA),
        sock(51, kTcpEstablished, v4(127, 0, 0, 1), 52000, v4(127, 0, 0, 1), 6379, kPodB), // another pod's
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(50).miss == PeerMiss::NotLocal);
    CHECK(index.find(51).miss == PeerMiss::NotLocal);
}

TEST_CASE("peers: several namespaces with the same addresses: ambiguous, not guessed") {
    // Two isolated test networks both use 10.9.0.2:5000 -> 10.9.0.1:80.
    const std::vector<TcpSocket> sockets = {
        sock(60, kTcpEstablished, v4(10, 9, 0, 1), 80, v4(10, 9, 0, 2), 5000, kHostNetns),
        sock(61, kTcpEstablished, v4(10, 9, 0, 2), 5000, v4(10, 9, 0, 1), 80, kPodA),
        sock(62, kTcpEstablished, v4(10, 9, 0, 2), 5000, v4(10, 9, 0, 1), 80, kPodB),
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(60).miss == PeerMiss::Ambiguous);
    CHECK(index.find(61).miss == PeerMiss::Ambiguous); // it names 60, but 60 does not name it back
    CHECK(index.find(62).miss == PeerMiss::Ambiguous);
}

TEST_CASE("peers: a tuple reused while its old TIME_WAIT lingers: the live socket, both ways") {
    TcpSocket old_client = sock(70, kTcpTimeWait, v4(127, 0, 0, 1), 50000, v4(127, 0, 0, 1), 80);
    old_client.time_wait = true;
    old_client.orphan = true;
    const std::vector<TcpSocket> sockets = {
        old_client,
        sock(71, kTcpEstablished, v4(127, 0, 0, 1), 50000, v4(127, 0, 0, 1), 80), // the new connection (tw_reuse)
        sock(72, kTcpEstablished, v4(127, 0, 0, 1), 80, v4(127, 0, 0, 1), 50000),
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(72).peer->cookie == 71);
    CHECK(index.find(71).peer->cookie == 72);
    CHECK(index.find(70).miss == PeerMiss::Ambiguous); // its own peer is gone; 72 is the new one's
}

TEST_CASE("peers: through NAT the addresses differ: no peer") {
    // A pod connects to a Service address; the server sees its pod address.
    const std::vector<TcpSocket> sockets = {
        sock(80, kTcpEstablished, v4(10, 244, 1, 7), 43000, v4(10, 96, 0, 10), 80, kPodA),
        sock(81, kTcpEstablished, v4(10, 244, 1, 5), 8080, v4(10, 244, 1, 7), 43000, kPodB),
    };
    const PeerIndex index(sockets, {});
    CHECK(index.find(80).miss == PeerMiss::NotLocal);
    CHECK(index.find(81).miss == PeerMiss::NotLocal);
}

TEST_CASE("peers: a connection whose server side is still a request, and a self-connected socket") {
    TcpSocket req = sock(90, kTcpNewSynRecv, v4(127, 0, 0, 1), 9000, v4(127, 0, 0, 1), 40500);
    req.request = true;
    req.orphan = true;
    const std::vector<TcpSocket> sockets = {
        req,
        sock(91, kTcpEstablished, v4(127, 0, 0, 1), 40500, v4(127, 0, 0, 1), 9000),
        sock(92, kTcpEstablished, v4(127, 0, 0, 1), 47000, v4(127, 0, 0, 1), 47000), // connect() to itself
    };
    const std::vector<SocketHolder> holders = {holds(91, 500, "client", 3)};
    const PeerIndex index(sockets, holders); // keeps spans of both: they must outlive it
    const PeerLookup p = index.find(91);
    REQUIRE(p.peer);
    CHECK(p.peer->request);
    CHECK(p.peer->orphan);
    CHECK_FALSE(p.peer->holder);
    CHECK(index.find(90).peer->cookie == 91);
    CHECK(index.find(92).miss == PeerMiss::SelfConnected);
}

TEST_CASE("peers: a socket the walk met twice is one socket") {
    TcpSocket before = sock(100, kTcpFinWait2, v4(127, 0, 0, 1), 41000, v4(127, 0, 0, 1), 80);
    before.read_mono_ns = 10;
    TcpSocket after = before;
    after.time_wait = true;
    after.orphan = true;
    after.read_mono_ns = 20;
    const std::vector<TcpSocket> sockets = {before, sock(101, kTcpCloseWait, v4(127, 0, 0, 1), 80, v4(127, 0, 0, 1), 41000),
                                            after, sock(0, kTcpEstablished, v4(1, 2, 3, 4), 1, v4(5, 6, 7, 8), 2)};
    const PeerIndex index(sockets, {});
    const PeerLookup p = index.find(101);
    REQUIRE(p.peer);
    CHECK(p.peer->index == 2); // the newer record
    CHECK(p.peer->time_wait);
    CHECK(index.find_at(0).peer->cookie == 101); // the older record answers as its cookie's newer one
    CHECK(index.find(0).miss == PeerMiss::UnknownSocket);
}

TEST_CASE("peers: miss names") {
    test::check_names<PeerMiss>(peer_miss_name, {{PeerMiss::None, "none"},
                                                 {PeerMiss::UnknownSocket, "unknown_socket"},
                                                 {PeerMiss::NotConnected, "not_connected"},
                                                 {PeerMiss::NotLocal, "not_local"},
                                                 {PeerMiss::Ambiguous, "ambiguous"},
                                                 {PeerMiss::SelfConnected, "self_connected"}});
}

TEST_CASE("peers: 100,000 sockets, 50,000 loopback pairs in 8 namespaces, every one found") {
    // `tcpleak_unit_tests -tc='peers: 100,000*' -d` times it.
    std::vector<TcpSocket> sockets;
    std::vector<SocketHolder> holders;
    sockets.reserve(100'000);
    std::uint64_t cookie = 0x4151f24;
    for (std::uint32_t k = 0; k < 50'000; ++k) {
        const std::uint32_t netns = kHostNetns + k % 8;
        const auto server_port = static_cast<std::uint16_t>(1000 + k % 50);
        const auto client_port = static_cast<std::uint16_t>(20000 + k / 50);
        sockets.push_back(sock(cookie++, kTcpCloseWait, v4(127, 0, 0, 1), server_port, v4(127, 0, 0, 1), client_port, netns));
        sockets.push_back(sock(cookie++, kTcpFinWait2, v4(127, 0, 0, 1), client_port, v4(127, 0, 0, 1), server_port, netns));
        holders.push_back(holds(cookie - 2, 1000 + k % 200, "server", 3 + k));
    }
    const PeerIndex index(sockets, holders);
    std::size_t found = 0;
    for (std::size_t i = 0; i < sockets.size(); ++i) {
        const PeerLookup p = index.find_at(i);
        found += p.peer && p.peer->index == (i % 2 == 0 ? i + 1 : i - 1);
    }
    CHECK(found == sockets.size());
}
