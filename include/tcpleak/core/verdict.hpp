// Why a socket stays in CLOSE_WAIT: never closed, or closed but still
// referenced (and by whom), or held with a history tcpleak did not see.
// The rules live here once, for a leak confirmed by a descriptor scan and
// for one reported as it leaves CLOSE_WAIT alike.
#pragma once

#include "tcpleak/core/leak.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace tcpleak {

// The first descriptor release seen (a close() that did not take effect:
// another descriptor still held the socket).
struct FirstRelease {
    std::uint64_t mono_ns = 0;
    std::uint32_t pid = 0;
    std::uint32_t fd = 0;
    ReleaseVia via = ReleaseVia::Close;
    Comm comm{};
};

// Who connected or accepted the socket, or held it first at start-up: a
// process that held a descriptor of it.
struct SocketOwner {
    std::uint32_t pid = 0;
    Comm comm{};
};

struct VerdictFacts {
    // The descriptors that hold the socket now (sorted by pid, fd), when a
    // scan says so (holders_known); leave() knows only the closer.
    const std::vector<Holder>* holders = nullptr;
    bool holders_known = false;
    std::optional<FirstRelease> release;
    std::optional<SocketOwner> owner;
    // Watched since it entered CLOSE_WAIT with no event lost since: only then
    // does "no release seen" mean "never closed".
    bool history_complete = true;
    // The task releasing the last reference now (a socket leaving CLOSE_WAIT
    // by close or exit), and whether it is exiting.
    std::optional<std::uint32_t> closer;
    bool closer_exiting = false;
};

struct VerdictResult {
    Verdict verdict = Verdict::NeverClosed;
    std::optional<ClosedBy> closed_by;
};

VerdictResult decide_verdict(const VerdictFacts& facts);

// The lowest descriptor of pid among sorted holders, or null.
const Holder* first_holder_of(const std::vector<Holder>& holders, std::uint32_t pid);

// Sorted by pid then fd, one entry per (pid, fd).
void normalize_holders(std::vector<Holder>& holders);

} // namespace tcpleak
