#include "tcpleak/core/top.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <tuple>
#include <utility>

namespace tcpleak {

bool TopFilter::keeps(const CensusProcess& p) const {
    if (!pids.empty() && std::find(pids.begin(), pids.end(), p.pid) == pids.end())
        return false;
    return !comm || comm_view(p.comm) == *comm;
}

double Growth::per_minute() const {
    return over_ns == 0 ? 0.0 : static_cast<double>(change) * 60e9 / static_cast<double>(over_ns);
}

std::uint32_t top_column(const StateCounts& counts, std::uint8_t state) {
    // A request socket is NEW_SYN_RECV in the kernel and SYN-RECV for ss and
    // for people: one column.
    return state == kTcpSynRecv ? counts[kTcpSynRecv] + counts[kTcpNewSynRecv] : counts[state];
}

std::span<const GoverningSysctl> governing_sysctls(UnheldKind kind) {
    static constexpr std::array<GoverningSysctl, 3> orphaned = {{
        {"tcp_max_orphans", &TcpSysctls::max_orphans, ""},
        {"tcp_orphan_retries", &TcpSysctls::orphan_retries, ""},
        {"tcp_fin_timeout", &TcpSysctls::fin_timeout_s, "s"}, // an orphaned FIN_WAIT2's lifetime
    }};
    static constexpr std::array<GoverningSysctl, 3> time_wait = {{
        {"tcp_max_tw_buckets", &TcpSysctls::max_tw_buckets, ""},
        {"tcp_fin_timeout", &TcpSysctls::fin_timeout_s, "s"}, // time-wait sockets in FIN_WAIT2
        {"tcp_tw_reuse", &TcpSysctls::tw_reuse, ""},
    }};
    static constexpr std::array<GoverningSysctl, 3> request = {{
        {"tcp_max_syn_backlog", &TcpSysctls::max_syn_backlog, ""},
        {"tcp_synack_retries", &TcpSysctls::synack_retries, ""},
        {"tcp_syncookies", &TcpSysctls::syncookies, ""},
    }};
    switch (kind) {
    case UnheldKind::Orphaned: return orphaned;
    case UnheldKind::TimeWait: return time_wait;
    case UnheldKind::Request: return request;
    case UnheldKind::NotAccepted:
    case UnheldKind::NoDescriptor: break;
    }
    return {};
}

void GrowthWindow::record(std::uint64_t now_ns, std::unordered_map<std::string, std::uint32_t> counts) {
    latest_ = {now_ns, std::move(counts)};
    if (baselines_.empty() || now_ns - baselines_.back().taken_ns >= window_ns_ / kBaselinesPerWindow)
        baselines_.push_back(latest_);
    // Keep the newest baseline at least a window old; older ones are no
    // longer needed.
    const std::uint64_t cutoff = now_ns > window_ns_ ? now_ns - window_ns_ : 0;
    while (baselines_.size() > 1 && baselines_[1].taken_ns <= cutoff)
        baselines_.pop_front();
}

std::int64_t GrowthWindow::count_in(const Sample& sample, const std::string& key) {
    const auto it = sample.counts.find(key);
    return it == sample.counts.end() ? 0 : it->second;
}

Growth GrowthWindow::growth(const std::string& key) const {
    if (baselines_.empty() || baselines_.front().taken_ns >= latest_.taken_ns)
        return {};
    const Sample& baseline = baselines_.front();
    return {count_in(latest_, key) - count_in(baseline, key), latest_.taken_ns - baseline.taken_ns};
}

void rank_rows(std::vector<TopRow>& rows) {
    const auto rank = [](const TopRow& r) {
        const std::int64_t growth = std::max<std::int64_t>(r.close_wait_growth.change, 0);
        return std::make_tuple(-growth, -static_cast<std::int64_t>(r.close_wait()),
                               -static_cast<std::int64_t>(r.sockets.closing()),
                               -static_cast<std::int64_t>(r.sockets.total()), r.pid, std::string_view(r.key));
    };
    std::sort(rows.begin(), rows.end(), [&rank](const TopRow& a, const TopRow& b) { return rank(a) < rank(b); });
}

namespace {

std::string process_key(const CensusProcess& p) {
    // The cgroup tells a reused pid from the process that had it before.
    return std::to_string(p.pid) + "/" + std::to_string(p.cgroup);
}

void keep_oldest(std::optional<std::uint64_t>& oldest, const std::optional<std::uint64_t>& age) {
    if (age && (!oldest || *age > *oldest))
        oldest = age;
}

void add_counts(StateCounts& into, const StateCounts& from) {
    for (std::size_t state = 0; state < from.by_state.size(); ++state)
        into.by_state[state] += from.by_state[state];
}

// Every unheld kind of every namespace that has sockets of it, the
// namespace's limits beside it.
std::vector<TopUnheldRow> unheld_rows(const Census& census, const LimitsOf& limits_of) {
    std::vector<TopUnheldRow> rows;
    for (const NetnsUnheld& ns : census.unheld_by_netns) {
        const std::optional<TcpSysctls> limits = limits_of ? limits_of(ns.netns) : std::nullopt;
        for (std::size_t kind = 0; kind < kUnheldKinds; ++kind)
            if (ns.unheld.by_kind[kind].total() > 0)
                rows.push_back({ns.netns, static_cast<UnheldKind>(kind), ns.unheld.by_kind[kind], limits});
    }
    return rows;
}

} // namespace

TopModel::TopModel(TopGrouping by, TopFilter filter, std::uint64_t growth_window_ns)
    : by_(by), filter_(std::move(filter)), window_(growth_window_ns) {}

std::vector<TopRow> TopModel::process_rows(const Census& now, const CensusDelta& delta) const {
    std::vector<TopRow> rows;
    for (const ProcessDelta& d : delta.processes) {
        const CensusProcess& p = now.processes[d.row];
        if (!filter_.keeps(p))
            continue;
        TopRow row;
        row.key = process_key(p);
        row.pid = p.pid;
        row.comm = p.comm;
        row.sockets = p.sockets;
        row.new_connections = d.new_connections;
        row.new_per_second = d.new_per_second;
        row.oldest_close_wait_ns = p.oldest_close_wait_ns;
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<TopRow> TopModel::container_rows(const std::vector<TopRow>& processes, const Census& now,
                                             const LabelOf& label_of) const {
    std::unordered_map<std::string, std::size_t> index; // label -> row
    std::vector<TopRow> rows;
    for (const TopRow& p : processes) {
        const std::string label = label_of(*now.find(p.pid));
        const auto [it, inserted] = index.try_emplace(label, rows.size());
        if (inserted) {
            TopRow row = p;
            row.key = label;
            row.container = label;
            rows.push_back(std::move(row));
            continue;
        }
        TopRow& row = rows[it->second];
        ++row.processes;
        add_counts(row.sockets, p.sockets);
        row.new_connections += p.new_connections;
        row.new_per_second += p.new_per_second;
        keep_oldest(row.oldest_close_wait_ns, p.oldest_close_wait_ns);
        if (p.pid < row.pid) {
            row.pid = p.pid;
            row.comm = p.comm;
        }
    }
    return rows;
}

TopSnapshot TopModel::update(Census census, const LabelOf& label_of, const LimitsOf& limits_of) {
    // The first census is its own "before": no rates, every socket old.
    const CensusDelta delta = census_delta(previous_ ? *previous_ : census, census);
    TopSnapshot snap;
    snap.taken_ns = census.taken_ns;
    snap.interval_ns = previous_ ? delta.interval_ns : 0;
    snap.by = by_;
    snap.all = census.all;
    snap.processes = static_cast<std::uint32_t>(census.processes.size());
    snap.new_connections = previous_ ? delta.new_connections : 0;
    snap.new_per_second = previous_ ? delta.new_per_second : 0;
    snap.orphans = census.unheld[UnheldKind::Orphaned].total();
    snap.time_wait = census.unheld[UnheldKind::TimeWait].total();
    snap.growth_window_ns = window_.window_ns();

    snap.rows = process_rows(census, delta);
    if (by_ == TopGrouping::Container)
        snap.rows = container_rows(snap.rows, census, label_of);
    std::unordered_map<std::string, std::uint32_t> close_wait;
    for (const TopRow& row : snap.rows)
        close_wait[row.key] = row.close_wait();
    window_.record(census.taken_ns, std::move(close_wait));
    for (TopRow& row : snap.rows) {
        row.close_wait_growth = window_.growth(row.key);
        snap.growing += row.close_wait_growth.change > 0 ? 1 : 0;
    }
    rank_rows(snap.rows);
    snap.unheld = unheld_rows(census, limits_of);
    previous_ = std::move(census);
    return snap;
}

} // namespace tcpleak
