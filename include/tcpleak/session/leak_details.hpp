// What a report carries beyond the leak tracker's facts, read from the
// kernel as it is made: the socket's TCP-table record, why it is stuck
// (core/stuck.hpp, with the sysctls of its network namespace) and the other
// end when it is a socket of this host (core/peers.hpp).
//
// Only new reports pay for it (leaks are few; a mass leak is one batch):
// one TCP-table read per network namespace of the batch — of every
// namespace of this host when an address may lead to another one (not
// loopback) — one peer index, one sysctl read per namespace.
#pragma once

#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/session/socket_scanner.hpp"

#include <span>

namespace tcpleak {

class LeakDetails {
public:
    explicit LeakDetails(SocketScanner& scanner) : scanner_(scanner) {}

    // holders: the descriptor records the scan read (the peers' holders
    // among them); more are read when a stuck state's peer may be in a
    // state they do not cover, and all of them when holders is empty.
    void fill(std::span<Leak> leaks, std::span<const SocketHolder> holders);

private:
    SocketScanner& scanner_;
};

} // namespace tcpleak
