// The agent's metrics (docs/agent.md): what the leak watch told, the last
// census, and the agent's own health, as Prometheus families. Counters grow
// with events; the census and leak gauges are rebuilt whole at every
// refresh, so /metrics and --textfile show the same snapshot until the
// next one. Every labelled family is a SeriesStore: at most 1000 label sets,
// the rest folded into "__other__" and counted in
// tcpleak_metrics_overflowed_updates_total{family}.
#pragma once

#include "tcpleak/core/census.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/metrics/histogram.hpp"
#include "tcpleak/metrics/series_store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tcpleak {

// Who a series is about: comm, container, pod, namespace (and pid with --metrics-pid).
struct ProcessLabels {
    std::string comm;
    std::string container;
    std::string pod;
    std::string namespace_name;
    std::string pid; // "" unless --metrics-pid (and "" for sockets nobody holds)
};
ProcessLabels process_labels(std::string_view comm, const Workload& workload, std::optional<std::uint32_t> pid);

// A reported leak as the gauges count it.
struct ActiveLeak {
    ProcessLabels labels;
    Verdict verdict = Verdict::NeverClosed;
    std::uint64_t entered_mono_ns = 0;
};

class AgentMetrics {
public:
    AgentMetrics(bool pid_label, std::string version, std::string kernel_release);

    // ---- events, as they happen ----
    void count_leak(const ProcessLabels& labels, Verdict verdict);
    void count_resolved(ResolvedHow how);
    void count_transition(std::uint8_t from_state, std::uint8_t to_state);
    void observe_close_wait_exit(std::uint64_t in_close_wait_ns);

    // ---- snapshots, every refresh ----
    using CgroupLabels = std::function<ProcessLabels(const CensusProcess& process)>;
    void set_census(const Census& census, const CgroupLabels& labels_of, std::uint64_t scan_ns);
    void set_leaks(std::span<const ActiveLeak> leaks, std::uint64_t now_mono_ns);
    void set_tracking(std::uint64_t events_lost, bool incomplete);
    // Sockets not timed for the duration histogram (TransitionTap's bound).
    void set_untimed(std::uint64_t untimed) { untimed_ = untimed; }

    // The exposition (format 0.0.4), into out (cleared first).
    void render(std::string& out) const;

private:
    std::vector<std::string> with_process_labels(std::vector<std::string> first) const;
    std::vector<std::string_view> values(std::initializer_list<std::string_view> first, const ProcessLabels& l) const;

    bool pid_label_;
    std::string version_;
    std::string kernel_;
    metrics::SeriesStore sockets_;
    metrics::SeriesStore leaked_;
    metrics::SeriesStore oldest_;
    metrics::SeriesStore leaks_total_;
    metrics::SeriesStore resolved_total_;
    metrics::SeriesStore transitions_total_;
    metrics::Histogram close_wait_duration_;
    std::uint64_t events_lost_ = 0;
    bool incomplete_ = false;
    std::uint64_t untimed_ = 0;
    std::optional<double> scan_seconds_; // none before the first census
};

} // namespace tcpleak
