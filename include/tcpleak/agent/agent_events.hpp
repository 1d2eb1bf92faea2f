// What the agent does with the leak watch's events, once WorkloadLeakEvents
// has given each leak its workload (container, pod, namespace): count it in
// the metrics, and pass it on to the NDJSON output when there is one. And the
// ring buffer's transitions, before the leak watch sees them, time every
// socket's CLOSE_WAIT (the close-latency histogram) and count the state
// changes.
#pragma once

#include "tcpleak/agent/agent_metrics.hpp"
#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/ring_reader.hpp"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace tcpleak {

class AgentLeakEvents final : public LeakEvents {
public:
    // next: the NDJSON output, or null.
    AgentLeakEvents(AgentMetrics& metrics, LeakEvents* next, bool pid_label);

    void leak(const Leak& leak) override;
    void resolved(const LeakResolved& resolved) override;
    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) override;
    void reconciled(const ReconcileNotice& notice) override;

    // The reported leaks still in CLOSE_WAIT (tracker.active()), as the gauges count them.
    std::vector<ActiveLeak> active(const std::vector<Leak>& leaks) const;

private:
    struct Known {
        ProcessLabels labels;
        Verdict verdict;
    };

    AgentMetrics& metrics_;
    LeakEvents* next_;
    bool pid_label_;
    std::unordered_map<std::uint64_t, Known> reported_; // by cookie, until resolved
};

// Taps the ring buffer's records on their way to the leak watch.
class TransitionTap final : public RecordSink {
public:
    // At most this many sockets are timed at once; past it a socket is not
    // timed (counted: untimed()), so memory stays bounded under churn.
    static constexpr std::size_t kMaxTimed = 262'144;

    TransitionTap(RecordSink& next, AgentMetrics& metrics) : next_(next), metrics_(metrics) {}
    void on_record(std::span<const std::byte> raw) override;
    std::uint64_t untimed() const { return untimed_; }

private:
    RecordSink& next_;
    AgentMetrics& metrics_;
    Transition transition_;
    std::unordered_map<std::uint64_t, std::uint64_t> entered_; // cookie -> CLOCK_MONOTONIC ns
    std::uint64_t untimed_ = 0;
};

} // namespace tcpleak
