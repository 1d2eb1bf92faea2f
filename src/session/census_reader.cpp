#include "tcpleak/session/census_reader.hpp"

#include "tcpleak/sys/clock.hpp"

#include <unordered_set>

namespace tcpleak {

namespace {

constexpr std::uint32_t kEveryState = 0xFFFF;

} // namespace

CensusInput CensusReader::read() {
    CensusInput input;
    const std::uint64_t began = monotonic_now_ns();
    input.holders = session_.holders_in_states(kEveryState);

    std::unordered_set<std::uint32_t> wanted;
    for (const std::uint32_t netns : namespaces_.discover())
        wanted.insert(netns);
    for (const SocketHolder& holder : input.holders)
        wanted.insert(holder.netns);

    for (const std::uint32_t netns : wanted) {
        std::optional<UniqueFd> fd;
        if (netns != namespaces_.own()) {
            fd = namespaces_.open(netns);
            if (!fd) {
                ++input.namespaces_unreachable;
                continue;
            }
        }
        std::vector<TcpSocket> table = session_.tcp_table(0, fd ? fd->get() : -1);
        input.sockets.insert(input.sockets.end(), table.begin(), table.end());
        ++input.namespaces_walked;
    }
    input.read_ns = monotonic_now_ns();
    input.took_ns = input.read_ns - began;
    return input;
}

Census CensusReader::take() {
    const CensusInput input = read();
    return take_census(input.sockets, input.holders, input.read_ns);
}

} // namespace tcpleak
