#include "tcpleak/core/verdict.hpp"

#include "tcpleak/core/enum_names.hpp"

#include <algorithm>
#include <array>

namespace tcpleak {

namespace {

// Every value named, in declaration order (from 0).
constexpr std::array<EnumName<Verdict>, 4> kVerdictNames = {{
    {Verdict::NeverClosed, "never_closed"}, {Verdict::ClosedStillReferenced, "closed_still_referenced"},
    {Verdict::Held, "held"}, {Verdict::Orphaned, "orphaned"},
}};
constexpr std::array<EnumName<Verdict>, 4> kVerdictLabels = {{
    {Verdict::NeverClosed, "never closed"}, {Verdict::ClosedStillReferenced, "closed, still referenced"},
    {Verdict::Held, "held (not watched since it entered CLOSE_WAIT)"},
    {Verdict::Orphaned, "orphaned (no descriptor holds it)"},
}};
static_assert(kVerdictNames.size() == static_cast<std::size_t>(Verdict::Orphaned) + 1);
static_assert(kVerdictLabels.size() == kVerdictNames.size());

constexpr std::array<EnumName<SeenBy>, 2> kSeenBy = {{{SeenBy::Transition, "transition"},
                                                      {SeenBy::SocketTable, "socket_table"}}};
static_assert(kSeenBy.size() == static_cast<std::size_t>(SeenBy::SocketTable) + 1);

constexpr std::array<EnumName<ResolvedHow>, 6> kResolvedHows = {{
    {ResolvedHow::Close, "close"}, {ResolvedHow::Shutdown, "shutdown"}, {ResolvedHow::Exit, "exit"},
    {ResolvedHow::Reset, "reset"}, {ResolvedHow::Unknown, "unknown"}, {ResolvedHow::StateChange, "state_change"},
}};
static_assert(kResolvedHows.size() == static_cast<std::size_t>(ResolvedHow::StateChange) + 1);

} // namespace

std::string_view verdict_name(Verdict v) { return name_in(kVerdictNames, v, "unknown"); }

std::string_view verdict_label(Verdict v) { return name_in(kVerdictLabels, v, "unknown"); }

std::string_view seen_by_name(SeenBy s) { return name_in(kSeenBy, s, "transition"); }

std::string_view resolved_how_name(ResolvedHow how) { return name_in(kResolvedHows, how, "unknown"); }

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
