// A leak event stream with each leak's workload filled in (its process's
// cgroup, container and pod: workload_identifier.hpp), for the agent and for
// `tcpleak leaks --json`: the leak is identified once, when reported, and
// its resolution carries the same workload (the process may be gone by then).
#pragma once

#include "tcpleak/agent/workload_identifier.hpp"
#include "tcpleak/core/leak_events.hpp"

#include <cstdint>
#include <unordered_map>

namespace tcpleak {

class WorkloadLeakEvents final : public LeakEvents {
public:
    WorkloadLeakEvents(WorkloadIdentifier& identifier, LeakEvents& next) : identifier_(identifier), next_(next) {}

    void leak(const Leak& leak) override;
    void resolved(const LeakResolved& resolved) override;
    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) override {
        next_.lost(count, total, mono_ns);
    }
    void reconciled(const ReconcileNotice& notice) override { next_.reconciled(notice); }

private:
    WorkloadIdentifier& identifier_;
    LeakEvents& next_;
    std::unordered_map<std::uint64_t, Workload> reported_; // by cookie, until resolved
};

} // namespace tcpleak
