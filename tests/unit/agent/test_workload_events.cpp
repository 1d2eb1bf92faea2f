// Leaks get their process's workload once; the resolution carries the same.
#include "tcpleak/agent/workload_events.hpp"
#include "tcpleak/agent/workload_identifier.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <vector>

using namespace tcpleak;

namespace {

struct Recorded final : LeakEvents {
    std::vector<Leak> leaks;
    std::vector<LeakResolved> resolutions;
    void leak(const Leak& leak) override { leaks.push_back(leak); }
    void resolved(const LeakResolved& resolved) override { resolutions.push_back(resolved); }
    void lost(std::uint64_t, std::uint64_t, std::uint64_t) override {}
    void reconciled(const ReconcileNotice&) override {}
};

} // namespace

TEST_CASE("a leak's workload is its process's, and its resolution says the same") {
    WorkloadIdentifier identifier("/nonexistent-pods-dir");
    Recorded next;
    WorkloadLeakEvents events(identifier, next);
    Leak leak;
    leak.cookie = 7;
    leak.pid = static_cast<std::uint32_t>(::getpid());
    events.leak(leak);
    REQUIRE(next.leaks.size() == 1);
    REQUIRE(next.leaks[0].workload.has_value());
    if (identifier.unavailable().empty()) // a machine with a cgroup2 mount
        CHECK(next.leaks[0].workload->cgroup.starts_with("/"));
    CHECK(next.leaks[0].workload->pod.empty()); // no pods directory

    LeakResolved resolved;
    resolved.leak = leak; // as the tracker keeps it: no workload
    events.resolved(resolved);
    REQUIRE(next.resolutions.size() == 1);
    CHECK(next.resolutions[0].leak.workload == next.leaks[0].workload);

    LeakResolved unknown;
    unknown.leak.cookie = 8; // never reported here: passed on as it is
    events.resolved(unknown);
    CHECK_FALSE(next.resolutions[1].leak.workload.has_value());
}
