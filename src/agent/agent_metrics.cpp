#include "tcpleak/agent/agent_metrics.hpp"

#include "tcpleak/agent/workload_identifier.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/metrics/exposition_writer.hpp"

#include <algorithm>
#include <cctype>

namespace tcpleak {

namespace {

using metrics::MetricType;
using metrics::SeriesStore;

// node_exporter's node_tcp_connection_states spelling: "close_wait".
std::string lower_state(std::uint8_t state) {
    std::string name(tcp_state_name(state));
    if (name.empty())
        name = std::to_string(state);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    return name;
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// From a tenth of a second (a prompt close) to a day (a leak); Prometheus'
// histogram_quantile interpolates between.
std::vector<double> close_wait_bounds() { return metrics::exponential_bounds(0.1, 4, 10); }

} // namespace

ProcessLabels process_labels(std::string_view comm, const Workload& workload, std::optional<std::uint32_t> pid) {
    return {std::string(comm), container_metric_label(workload), workload.pod, workload.namespace_name,
            pid ? std::to_string(*pid) : std::string()};
}

AgentMetrics::AgentMetrics(bool pid_label, std::string version, std::string kernel_release)
    : pid_label_(pid_label), version_(std::move(version)), kernel_(std::move(kernel_release)),
      sockets_("tcpleak_sockets", MetricType::gauge,
               "TCP sockets by state and the process counted for them (its first holder); sockets no process "
               "holds (TIME_WAIT, orphans, accept queues) under comm=\"\".",
               with_process_labels({"state"})),
      leaked_("tcpleak_close_wait_leaked_sockets", MetricType::gauge,
              "Sockets in CLOSE_WAIT past the threshold while a descriptor holds them (reported leaks).",
              with_process_labels({"verdict"})),
      oldest_("tcpleak_close_wait_oldest_seconds", MetricType::gauge,
              "Time the oldest leaked CLOSE_WAIT socket has spent in CLOSE_WAIT.", with_process_labels({})),
      leaks_total_("tcpleak_leaks_total", MetricType::counter, "Leaks reported since the agent started.",
                   with_process_labels({"verdict"})),
      resolved_total_("tcpleak_leaks_resolved_total", MetricType::counter,
                      "Reported leaks that left CLOSE_WAIT, by how.", {"how"}),
      transitions_total_("tcpleak_state_transitions_total", MetricType::counter,
                         "TCP state changes the agent was sent (into and out of CLOSE_WAIT).",
                         {"from_state", "to_state"}),
      close_wait_duration_(close_wait_bounds()) {}

std::vector<std::string> AgentMetrics::with_process_labels(std::vector<std::string> first) const {
    for (const char* name : {"comm", "container", "pod", "namespace"})
        first.emplace_back(name);
    if (pid_label_)
        first.emplace_back("pid");
    return first;
}

std::vector<std::string_view> AgentMetrics::values(std::initializer_list<std::string_view> first,
                                                   const ProcessLabels& l) const {
    std::vector<std::string_view> out(first);
    out.insert(out.end(), {l.comm, l.container, l.pod, l.namespace_name});
    if (pid_label_)
        out.push_back(l.pid);
    return out;
}

void AgentMetrics::count_leak(const ProcessLabels& labels, Verdict verdict) {
    leaks_total_.add(metrics::LabelValues(values({verdict_name(verdict)}, labels)));
}

void AgentMetrics::count_resolved(ResolvedHow how) { resolved_total_.add({resolved_how_name(how)}); }

void AgentMetrics::count_transition(std::uint8_t from_state, std::uint8_t to_state) {
    transitions_total_.add({lower_state(from_state), lower_state(to_state)});
}

void AgentMetrics::observe_close_wait_exit(std::uint64_t in_close_wait_ns) {
    close_wait_duration_.observe(seconds(in_close_wait_ns));
}

void AgentMetrics::set_census(const Census& census, const CgroupLabels& labels_of, std::uint64_t scan_ns) {
    sockets_.clear();
    for (const CensusProcess& process : census.processes) {
        const ProcessLabels labels = labels_of(process);
        for (std::uint8_t state = 1; state < kTcpStateSlots; ++state)
            if (const std::uint32_t n = process.sockets[state])
                sockets_.add(metrics::LabelValues(values({lower_state(state)}, labels)), n);
    }
    StateCounts unheld;
    for (const StateCounts& kind : census.unheld.by_kind)
        for (std::uint8_t state = 1; state < kTcpStateSlots; ++state)
            unheld.add(state, kind[state]);
    for (std::uint8_t state = 1; state < kTcpStateSlots; ++state)
        if (const std::uint32_t n = unheld[state])
            sockets_.add(metrics::LabelValues(values({lower_state(state)}, ProcessLabels{})), n);
    scan_seconds_ = seconds(scan_ns);
}

void AgentMetrics::set_leaks(std::span<const ActiveLeak> leaks, std::uint64_t now_mono_ns) {
    leaked_.clear();
    oldest_.clear();
    for (const ActiveLeak& leak : leaks) {
        leaked_.add(metrics::LabelValues(values({verdict_name(leak.verdict)}, leak.labels)));
        const std::uint64_t age = now_mono_ns > leak.entered_mono_ns ? now_mono_ns - leak.entered_mono_ns : 0;
        oldest_.set_max(metrics::LabelValues(values({}, leak.labels)), seconds(age));
    }
}

void AgentMetrics::set_tracking(std::uint64_t events_lost, bool incomplete) {
    events_lost_ = events_lost;
    incomplete_ = incomplete;
}

void AgentMetrics::render(std::string& out) const {
    out.clear();
    metrics::ExpositionWriter w(out);
    w.family("tcpleak_build_info", MetricType::gauge, "The agent's version and the kernel it runs on.");
    w.sample({{"version", version_}, {"kernel", kernel_}}, 1);
    for (const SeriesStore* store : {&sockets_, &leaked_, &oldest_, &leaks_total_, &resolved_total_})
        store->write(w);
    if (transitions_total_.size() > 0) // only once transitions are seen
        transitions_total_.write(w);
    w.family("tcpleak_close_wait_duration_seconds", MetricType::histogram,
             "Time sockets spent in CLOSE_WAIT, observed when they left it: the applications' close latency.");
    w.histogram({}, close_wait_duration_);
    w.family("tcpleak_close_wait_untimed_total", MetricType::counter,
             "Sockets that entered CLOSE_WAIT while the most the agent times at once were timed: not in "
             "tcpleak_close_wait_duration_seconds.");
    w.sample({}, untimed_);
    w.family("tcpleak_events_lost_total", MetricType::counter,
             "Kernel records lost (ring buffer full); the agent reconciles with the socket tables after them.");
    w.sample({}, events_lost_);
    w.family("tcpleak_tracking_incomplete", MetricType::gauge,
             "1 when a leak may have been missed (events lost for longer than the threshold), else 0.");
    w.sample({}, incomplete_ ? 1 : 0);
    if (scan_seconds_) {
        w.family("tcpleak_scan_duration_seconds", MetricType::gauge,
                 "Wall time of the last census (every TCP socket and descriptor of the node).");
        w.sample({}, *scan_seconds_);
    }
    w.family("tcpleak_metrics_overflowed_updates_total", MetricType::counter,
             "Updates folded into the __other__ series of a family at its bound of 1000 label sets.");
    for (const SeriesStore* store : {&sockets_, &leaked_, &oldest_, &leaks_total_, &resolved_total_, &transitions_total_})
        w.sample({{"family", store->name()}}, store->overflowed_updates());
}

} // namespace tcpleak
