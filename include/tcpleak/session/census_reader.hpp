// What a census (core/census.hpp) joins, read from the kernel: the TCP
// table of every network namespace tcpleak can enter (iter/tcp: full,
// time-wait and request sockets) and every (socket, descriptor) pair of
// every process (iter/task_file). Shared by `tcpleak top` and the agent.
#pragma once

#include "tcpleak/core/census.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/netns.hpp"

#include <cstdint>
#include <unordered_set>
#include <vector>

namespace tcpleak {

struct CensusInput {
    std::vector<TcpSocket> sockets;
    std::vector<SocketHolder> holders;
    std::uint32_t namespaces_walked = 0;
    // Namespaces held sockets live in that could not be entered (no process
    // or name keeps them any more): their sockets are not in the census.
    std::uint32_t namespaces_unreachable = 0;
    std::uint64_t read_ns = 0; // CLOCK_MONOTONIC, once both tables were read
    std::uint64_t took_ns = 0; // wall time of the reads
};

class CensusReader {
public:
    explicit CensusReader(BpfSession& session) : session_(session) {}

    // The TCP tables first (their walk gives every socket the cookie the
    // descriptor walk needs to name it), then the descriptors: a socket
    // opened in between waits for the next census (a holder of it is
    // counted stale), one closed in between counts as unheld; none twice.
    CensusInput read();
    // read(), joined (take_census).
    Census take();

private:
    void walk_table(std::uint32_t netns, CensusInput& input, std::unordered_set<std::uint32_t>& walked);

    BpfSession& session_;
    NetnsLocator namespaces_;
};

} // namespace tcpleak
