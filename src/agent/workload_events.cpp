#include "tcpleak/agent/workload_events.hpp"

namespace tcpleak {

void WorkloadLeakEvents::leak(const Leak& leak) {
    Leak told = leak;
    told.workload = identifier_.of_pid(leak.pid);
    reported_.insert_or_assign(leak.cookie, *told.workload);
    next_.leak(told);
}

void WorkloadLeakEvents::resolved(const LeakResolved& resolved) {
    LeakResolved told = resolved;
    if (const auto it = reported_.find(resolved.leak.cookie); it != reported_.end()) {
        told.leak.workload = std::move(it->second);
        reported_.erase(it);
    }
    next_.resolved(told);
}

} // namespace tcpleak
