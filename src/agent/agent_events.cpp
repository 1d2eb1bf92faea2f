#include "tcpleak/agent/agent_events.hpp"

#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/kernel/decode.hpp"

namespace tcpleak {

AgentLeakEvents::AgentLeakEvents(AgentMetrics& metrics, LeakEvents* next, bool pid_label)
    : metrics_(metrics), next_(next), pid_label_(pid_label) {}

void AgentLeakEvents::leak(const Leak& leak) {
    const std::optional<std::uint32_t> pid = pid_label_ ? std::optional(leak.pid) : std::nullopt;
    Known known{process_labels(comm_view(leak.comm), leak.workload.value_or(Workload{}), pid), leak.verdict};
    metrics_.count_leak(known.labels, known.verdict);
    reported_.insert_or_assign(leak.cookie, std::move(known));
    if (next_ != nullptr)
        next_->leak(leak);
}

void AgentLeakEvents::resolved(const LeakResolved& resolved) {
    metrics_.count_resolved(resolved.how);
    reported_.erase(resolved.leak.cookie);
    if (next_ != nullptr)
        next_->resolved(resolved);
}

void AgentLeakEvents::lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) {
    if (next_ != nullptr)
        next_->lost(count, total, mono_ns);
}

void AgentLeakEvents::reconciled(const ReconcileNotice& notice) {
    if (next_ != nullptr)
        next_->reconciled(notice);
}

std::vector<ActiveLeak> AgentLeakEvents::active(const std::vector<Leak>& leaks) const {
    std::vector<ActiveLeak> out;
    out.reserve(leaks.size());
    for (const Leak& leak : leaks) {
        const auto it = reported_.find(leak.cookie);
        if (it == reported_.end()) // reported before this watch told us: cannot be
            continue;
        out.push_back({it->second.labels, it->second.verdict, leak.entered_mono_ns});
    }
    return out;
}

void TransitionTap::on_record(std::span<const std::byte> raw) {
    if (record_kind(raw) == RecordKind::Transition && decode(raw, transition_) && !transition_.context_only) {
        metrics_.count_transition(transition_.old_state, transition_.new_state);
        if (transition_.new_state == kTcpCloseWait) {
            if (entered_.size() < kMaxTimed)
                entered_.insert_or_assign(transition_.cookie, transition_.mono_ns);
            else
                ++untimed_;
        } else if (transition_.old_state == kTcpCloseWait) {
            if (const auto it = entered_.find(transition_.cookie); it != entered_.end()) {
                metrics_.observe_close_wait_exit(transition_.mono_ns - it->second);
                entered_.erase(it);
            }
        }
    }
    next_.on_record(raw);
}

} // namespace tcpleak
