#include "tcpleak/core/peers.hpp"

#include "tcpleak/core/census.hpp" // supersedes()
#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>

namespace tcpleak {

namespace {

constexpr std::uint32_t kNone = CookieIndex::kNone;

using Address = std::array<std::uint8_t, 16>;

// One form for both families: IPv4 as its v4-mapped IPv6 address.
Address canonical(std::uint8_t family, const Address& addr) {
    if (family != kFamilyIpv4)
        return addr;
    Address mapped{};
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    std::memcpy(mapped.data() + 12, addr.data(), 4);
    return mapped;
}

bool is_v4_mapped(const Address& a) {
    return std::all_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b == 0; }) && a[10] == 0xff &&
           a[11] == 0xff;
}

// 127.0.0.0/8 or ::1: never leaves its network namespace.
bool is_loopback(const Address& a) {
    if (is_v4_mapped(a))
        return a[12] == 127;
    return std::all_of(a.begin(), a.begin() + 15, [](std::uint8_t b) { return b == 0; }) && a[15] == 1;
}

struct Ends {
    Address local;
    std::uint16_t local_port;
    Address remote;
    std::uint16_t remote_port;
    friend bool operator==(const Ends&, const Ends&) = default;
};

Ends ends_of(const TcpSocket& s) {
    return {canonical(s.family, s.saddr), s.sport, canonical(s.family, s.daddr), s.dport};
}

Ends reversed(const Ends& e) {
    return {e.remote, e.remote_port, e.local, e.local_port};
}

std::uint64_t half(const Address& a, std::size_t at) {
    std::uint64_t v = 0;
    std::memcpy(&v, a.data() + at, sizeof(v));
    return v;
}

std::uint64_t key_of(const Ends& e) {
    std::uint64_t h = CookieIndex::remix_nonzero(half(e.local, 0));
    h = CookieIndex::remix_nonzero(h ^ half(e.local, 8));
    h = CookieIndex::remix_nonzero(h ^ half(e.remote, 0));
    h = CookieIndex::remix_nonzero(h ^ half(e.remote, 8));
    return CookieIndex::remix_nonzero(h ^ (std::uint64_t{e.local_port} << 16 | e.remote_port));
}

// The candidates of one place (S's namespace, or the others).
struct Tier {
    std::uint32_t count = 0;
    std::uint32_t live = 0; // not time-wait
    std::uint32_t any = kNone;
    std::uint32_t last_live = kNone;

    void add(std::uint32_t j, bool time_wait) {
        ++count;
        any = j;
        if (!time_wait) {
            ++live;
            last_live = j;
        }
    }
};

} // namespace

std::string_view peer_miss_name(PeerMiss miss) {
    switch (miss) {
    case PeerMiss::None: return "none";
    case PeerMiss::UnknownSocket: return "unknown_socket";
    case PeerMiss::NotConnected: return "not_connected";
    case PeerMiss::NotLocal: return "not_local";
    case PeerMiss::Ambiguous: return "ambiguous";
    case PeerMiss::SelfConnected: return "self_connected";
    }
    return "none";
}

PeerIndex::PeerIndex(std::span<const TcpSocket> sockets, std::span<const SocketHolder> holders)
    : sockets_(sockets), holders_(holders), by_cookie_(sockets.size()), by_tuple_(sockets.size()),
      next_(sockets.size(), kNone), indexed_(sockets.size(), 0), first_(sockets.size()) {
    for (std::uint32_t i = 0; i < sockets.size(); ++i) {
        const auto [kept, inserted] = by_cookie_.insert(sockets[i].cookie, i);
        if (!kept)
            continue; // cookie 0: never a socket's
        if (inserted) {
            indexed_[i] = 1;
        } else if (supersedes(sockets[i], sockets[*kept])) {
            indexed_[*kept] = 0;
            indexed_[i] = 1;
            *kept = i;
        }
    }
    for (std::uint32_t i = 0; i < sockets.size(); ++i) {
        if (!indexed_[i])
            continue;
        const auto [head, inserted] = by_tuple_.insert(key_of(ends_of(sockets[i])), i);
        if (!inserted) { // push i in front of the chain
            next_[i] = *head;
            *head = i;
        }
    }
    for (std::uint32_t j = 0; j < holders.size(); ++j) {
        const SocketHolder& h = holders[j];
        const std::uint32_t i = by_cookie_.find(h.cookie);
        if (i == kNone)
            continue;
        First& first = first_[i];
        ++first.count;
        if (first.record == kNone || std::tie(h.pid, h.fd) < std::tie(first.pid, first.fd)) {
            first.pid = h.pid;
            first.fd = h.fd;
            first.record = j;
        }
    }
}

PeerIndex::Choice PeerIndex::choose(std::uint32_t i) const {
    const TcpSocket& s = sockets_[i];
    if (s.state == kTcpListen || s.dport == 0 || s.sport == 0)
        return {kNone, PeerMiss::NotConnected};
    const Ends mine = ends_of(s);
    const Ends wanted = reversed(mine);
    const bool loopback = is_loopback(mine.local) || is_loopback(mine.remote);
    Tier same, other;
    bool self = false;
    for (std::uint32_t j = by_tuple_.find(key_of(wanted)); j != kNone; j = next_[j]) {
        const TcpSocket& t = sockets_[j];
        if (ends_of(t) != wanted)
            continue; // another tuple with the same hash
        if (j == i) {
            self = true;
            continue;
        }
        if (t.netns == s.netns)
            same.add(j, t.time_wait);
        else if (!loopback)
            other.add(j, t.time_wait);
    }
    const Tier& tier = same.count > 0 ? same : other;
    if (tier.count == 0)
        return {kNone, self ? PeerMiss::SelfConnected : PeerMiss::NotLocal};
    if (tier.count == 1)
        return {tier.any, PeerMiss::None};
    if (tier.live == 1)
        return {tier.last_live, PeerMiss::None};
    return {kNone, PeerMiss::Ambiguous};
}

LocalPeer PeerIndex::describe(std::uint32_t peer, std::uint32_t of) const {
    const TcpSocket& t = sockets_[peer];
    LocalPeer p;
    p.cookie = t.cookie;
    p.state = t.state;
    p.netns = t.netns;
    p.same_netns = t.netns == sockets_[of].netns;
    p.orphan = t.orphan;
    p.time_wait = t.time_wait;
    p.request = t.request;
    p.index = peer;
    const First& first = first_[peer];
    p.holder_count = first.count;
    if (first.record != kNone) {
        const SocketHolder& h = holders_[first.record];
        p.holder = Holder{h.pid, h.comm, h.fd};
    }
    return p;
}

PeerLookup PeerIndex::find_at(std::size_t index) const {
    if (index >= sockets_.size())
        return {std::nullopt, PeerMiss::UnknownSocket};
    std::uint32_t i = static_cast<std::uint32_t>(index);
    if (!indexed_[i]) { // a superseded duplicate: its cookie's counted record
        i = by_cookie_.find(sockets_[i].cookie);
        if (i == kNone)
            return {std::nullopt, PeerMiss::UnknownSocket};
    }
    const Choice there = choose(i);
    if (there.miss != PeerMiss::None)
        return {std::nullopt, there.miss};
    // Both ways or not at all: the candidate must choose this socket back.
    if (choose(there.index).index != i)
        return {std::nullopt, PeerMiss::Ambiguous};
    return {describe(there.index, i), PeerMiss::None};
}

PeerLookup PeerIndex::find(std::uint64_t cookie) const {
    const std::uint32_t i = by_cookie_.find(cookie);
    if (i == kNone)
        return {std::nullopt, PeerMiss::UnknownSocket};
    return find_at(i);
}

std::size_t PeerIndex::memory_bytes() const {
    return by_cookie_.memory_bytes() + by_tuple_.memory_bytes() + next_.capacity() * sizeof(std::uint32_t) +
           indexed_.capacity() + first_.capacity() * sizeof(First);
}

} // namespace tcpleak
