#include "tcpleak/core/verdict.hpp"

#include <algorithm>

namespace tcpleak {

std::string_view verdict_name(Verdict v) {
    switch (v) {
    case Verdict::NeverClosed: return "never_closed";
    case Verdict::ClosedStillReferenced: return "closed_still_referenced";
    case Verdict::Held: return "held";
    case Verdict::Orphaned: return "orphaned";
    }
    return "unknown";
}

std::string_view verdict_label(Verdict v) {
    switch (v) {
    case Verdict::NeverClosed: return "never closed";
    case Verdict::ClosedStillReferenced: return "closed, still referenced";
    case Verdict::Held: return "held (not watched since it entered CLOSE_WAIT)";
    case Verdict::Orphaned: return "orphaned (no descriptor holds it)";
    }
    return "unknown";
}

std::string_view seen_by_name(SeenBy s) {
    switch (s) {
    case SeenBy::Transition: return "transition";
    case SeenBy::SocketTable: return "socket_table";
    }
    return "transition";
}

std::string_view resolved_how_name(ResolvedHow how) {
    switch (how) {
    case ResolvedHow::Close: return "close";
    case ResolvedHow::Shutdown: return "shutdown";
    case ResolvedHow::Exit: return "exit";
    case ResolvedHow::Reset: return "reset";
    case ResolvedHow::Unknown: return "unknown";
    case ResolvedHow::StateChange: return "state_change";
    }
    return "unknown";
}

const Holder* first_holder_of(const std::vector<Holder>& holders, std::uint32_t pid) {
    const auto it = std::find_if(holders.begin(), holders.end(), [pid](const Holder& h) { return h.pid == pid; });
    return it == holders.end() ? nullptr : &*it;
}

void normalize_holders(std::vector<Holder>& holders) {
    std::stable_sort(holders.begin(), holders.end(), [](const Holder& a, const Holder& b) {
        return a.pid != b.pid ? a.pid < b.pid : a.fd < b.fd;
    });
    holders.erase(std::unique(holders.begin(), holders.end(),
                              [](const Holder& a, const Holder& b) { return a.pid == b.pid && a.fd == b.fd; }),
                  holders.end());
}

namespace {

bool holds(const VerdictFacts& facts, std::uint32_t pid) {
    return facts.holders_known && facts.holders != nullptr && first_holder_of(*facts.holders, pid) != nullptr;
}

// A process going away is not a close that failed to take effect when it
// still holds the socket itself: an exiting process releases its
// descriptors one by one (a scan can see it between its exit walk and the
// closing of its files), and one holding a dup keeps the socket to the end.
bool release_counts(const VerdictFacts& facts) {
    if (!facts.release)
        return false;
    if (facts.release->via != ReleaseVia::Exit)
        return true;
    const std::uint32_t releaser = facts.release->pid;
    const bool releaser_still_holds =
        holds(facts, releaser) || (facts.closer_exiting && facts.closer && *facts.closer == releaser);
    return !releaser_still_holds;
}

// The owner held a descriptor of it; it no longer does (someone else holds
// or closes the last one) and no release of it was seen: its descriptor went
// away without a close() tcpleak saw, by exit (or exec without the hook).
bool owner_let_go(const VerdictFacts& facts) {
    if (!facts.owner)
        return false;
    if (facts.closer)
        return *facts.closer != facts.owner->pid;
    return facts.holders_known && !holds(facts, facts.owner->pid);
}

} // namespace

VerdictResult decide_verdict(const VerdictFacts& facts) {
    VerdictResult result;
    if (release_counts(facts)) {
        const FirstRelease& r = *facts.release;
        result.verdict = Verdict::ClosedStillReferenced;
        result.closed_by = ClosedBy{r.pid, r.comm, r.fd, r.via};
    } else if (owner_let_go(facts)) {
        result.verdict = Verdict::ClosedStillReferenced;
        result.closed_by = ClosedBy{facts.owner->pid, facts.owner->comm, std::nullopt, ReleaseVia::Exit};
    } else {
        result.verdict = facts.history_complete ? Verdict::NeverClosed : Verdict::Held;
    }
    return result;
}

} // namespace tcpleak
