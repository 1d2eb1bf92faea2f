#include "tcpleak/session/census_reader.hpp"

#include "tcpleak/sys/clock.hpp"

#include <unordered_set>

namespace tcpleak {

namespace {

constexpr std::uint32_t kEveryState = 0xFFFF;

} // namespace

// The TCP tables first: their walk gives every socket the cookie the
// descriptor walk reads (a socket without one is skipped there). A holder in
// a namespace no process is in (entered, then left) has its table read after.
CensusInput CensusReader::read() {
    CensusInput input;
    const std::uint64_t began = monotonic_now_ns();
    std::unordered_set<std::uint32_t> walked;
    for (const std::uint32_t netns : namespaces_.discover())
        walk_table(netns, input, walked);
    input.holders = session_.holders_in_states(kEveryState);
    for (const SocketHolder& holder : input.holders)
        walk_table(holder.netns, input, walked);
    input.read_ns = monotonic_now_ns();
    input.took_ns = input.read_ns - began;
    return input;
}

void CensusReader::walk_table(std::uint32_t netns, CensusInput& input, std::unordered_set<std::uint32_t>& walked) {
    if (!walked.insert(netns).second)
        return;
    std::optional<UniqueFd> fd;
    if (netns != namespaces_.own()) {
        fd = namespaces_.open(netns);
        if (!fd) {
            ++input.namespaces_unreachable;
            return;
        }
    }
    std::vector<TcpSocket> table = session_.tcp_table(0, fd ? fd->get() : -1);
    input.sockets.insert(input.sockets.end(), table.begin(), table.end());
    ++input.namespaces_walked;
}

Census CensusReader::take() {
    const CensusInput input = read();
    return take_census(input.sockets, input.holders, input.read_ns);
}

} // namespace tcpleak
