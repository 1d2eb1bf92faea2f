#include "tcpleak/session/socket_scanner.hpp"

#include "tcpleak/core/tcp_state.hpp"

namespace tcpleak {

std::optional<std::vector<std::uint64_t>> KernelScanner::close_wait_cookies(std::uint32_t netns) {
    std::optional<UniqueFd> fd;
    if (netns != namespaces_.own()) {
        fd = namespaces_.open(netns);
        if (!fd)
            return std::nullopt;
    }
    std::vector<std::uint64_t> cookies;
    for (const TcpSocket& socket : session_.tcp_table(1U << kTcpCloseWait, fd ? fd->get() : -1))
        cookies.push_back(socket.cookie);
    return cookies;
}

} // namespace tcpleak
