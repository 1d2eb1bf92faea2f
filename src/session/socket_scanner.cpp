#include "tcpleak/session/socket_scanner.hpp"

namespace tcpleak {

void name_every_socket(BpfSession& session, NetnsLocator& namespaces) {
    for (const std::uint32_t netns : namespaces.discover()) {
        if (netns == namespaces.own()) {
            session.name_sockets();
        } else if (const std::optional<UniqueFd> fd = namespaces.open(netns)) {
            session.name_sockets(fd->get());
        }
    }
}

std::vector<SocketHolder> KernelScanner::existing_sockets() {
    name_every_socket(session_, namespaces_);
    return session_.seed_existing_sockets();
}

std::optional<std::vector<TcpSocket>> KernelScanner::tcp_table(std::uint32_t netns, std::uint32_t states) {
    if (netns == namespaces_.own())
        return session_.tcp_table(states);
    const std::optional<UniqueFd> fd = namespaces_.open(netns);
    if (!fd)
        return std::nullopt;
    return session_.tcp_table(states, fd->get());
}

std::optional<TcpSysctls> KernelScanner::tcp_sysctls(std::uint32_t netns) {
    if (netns == namespaces_.own())
        return read_tcp_sysctls();
    const std::optional<UniqueFd> fd = namespaces_.open(netns);
    if (!fd)
        return std::nullopt;
    TcpSysctls sysctls;
    {
        const InNetworkNamespace in(fd->get());
        sysctls = read_tcp_sysctls();
    }
    // tcp_max_orphans is host-wide: only the initial namespace has the file.
    if (!sysctls.max_orphans)
        sysctls.max_orphans = read_tcp_sysctls().max_orphans;
    return sysctls;
}

} // namespace tcpleak
