// What `tcpleak top` shows, computed from successive censuses
// (core/census.hpp): rows per process or per container, ranked so that what
// is going wrong comes first, with new connections per second, CLOSE_WAIT
// growth over a window, and the unheld sockets of each network namespace
// next to the limits that govern them. Pure: every time, label and sysctl
// is passed in (a fake clock in the unit tests).
#pragma once

#include "tcpleak/core/census.hpp"
#include "tcpleak/sys/sysctl.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <unordered_map>
#include <vector>

namespace tcpleak {

// The columns of top, in the order of a connection's life: opening, open,
// the closing states (the peer closed first: CLOSE_WAIT, LAST_ACK; this end
// closed first: FIN_WAIT1, FIN_WAIT2, CLOSING), and TIME_WAIT.
inline constexpr std::array<std::uint8_t, 9> kTopStates = {
    kTcpSynSent, kTcpSynRecv, kTcpEstablished, kTcpCloseWait, kTcpFinWait1,
    kTcpFinWait2, kTcpLastAck, kTcpClosing, kTcpTimeWait,
};

// The count of a column of kTopStates (SYN_RECV includes the requests).
std::uint32_t top_column(const StateCounts& counts, std::uint8_t state);

enum class TopGrouping : std::uint8_t { Process, Container };

// -p / -c: only the rows of these processes (empty: all). Unheld rows are
// never filtered: nobody holds them, so no filter can name them.
struct TopFilter {
    std::vector<std::uint32_t> pids;
    std::optional<std::string> comm;
    bool keeps(const CensusProcess& p) const;
};

// The change of a count over the last `window`: from the oldest census kept
// (the newest one at least a window old, or the first) to the latest.
struct Growth {
    std::int64_t change = 0;
    std::uint64_t over_ns = 0; // 0: a single census so far, no growth known
    double per_minute() const;
};

// CLOSE_WAIT per row key over time. Growth over a window rather than over
// one interval: a leak of one socket every 10 s shows as +6/min instead of
// flickering between +30/min and 0 with a 2 s interval. Memory is bounded
// whatever the interval: a census is kept as a baseline at most every
// window / kBaselinesPerWindow, so there are at most that many (+1).
class GrowthWindow {
public:
    static constexpr std::uint64_t kBaselinesPerWindow = 32;

    explicit GrowthWindow(std::uint64_t window_ns) : window_ns_(window_ns) {}
    // The latest census's counts.
    void record(std::uint64_t now_ns, std::unordered_map<std::string, std::uint32_t> counts);
    // A key the baseline census lacks had none then (a new process or container).
    Growth growth(const std::string& key) const;
    std::uint64_t window_ns() const { return window_ns_; }
    std::size_t baselines() const { return baselines_.size(); }

private:
    struct Sample {
        std::uint64_t taken_ns = 0;
        std::unordered_map<std::string, std::uint32_t> counts;
    };
    static std::int64_t count_in(const Sample& sample, const std::string& key);

    std::deque<Sample> baselines_; // the oldest: the newest one at least a window old, or the first
    Sample latest_;
    std::uint64_t window_ns_;
};

// One process, or one container's processes together.
struct TopRow {
    std::string key;       // the same row in the next census: "pid/cgroup id", or the container label
    std::uint32_t pid = 0; // process rows (container rows: the lowest pid)
    Comm comm{};           // process rows (container rows: the lowest pid's)
    std::string container; // container rows: its label (untrusted bytes: cgroup names)
    std::uint32_t processes = 1;
    StateCounts sockets;
    std::uint32_t new_connections = 0; // since the last census (a lower bound; census.hpp)
    double new_per_second = 0;
    Growth close_wait_growth;
    // A lower bound of the age of its oldest CLOSE_WAIT socket: from the last
    // segment the socket received (the peer's FIN, or later data), which the
    // kernel keeps; nullopt when it has none or none the kernel dated.
    std::optional<std::uint64_t> oldest_close_wait_ns;

    std::uint32_t close_wait() const { return sockets[kTcpCloseWait]; }
};

// The unheld sockets of one kind in one network namespace, and the limits
// of that namespace that govern them.
struct TopUnheldRow {
    std::uint32_t netns = 0;
    UnheldKind kind = UnheldKind::Orphaned;
    StateCounts sockets;
    std::optional<TcpSysctls> limits; // nullopt: the namespace could not be entered
};

// A sysctl that governs a kind of unheld socket: its name in /proc/sys/net/ipv4,
// where read_tcp_sysctls puts it, and its unit ("s", or none).
struct GoverningSysctl {
    std::string_view name;
    std::optional<std::uint32_t> TcpSysctls::*value;
    std::string_view unit;
};
// orphaned: tcp_max_orphans (host-wide), tcp_orphan_retries, tcp_fin_timeout;
// time_wait: tcp_max_tw_buckets, tcp_fin_timeout, tcp_tw_reuse; request:
// tcp_max_syn_backlog, tcp_synack_retries, tcp_syncookies; none for the
// others (a listener's backlog bounds what waits in its queue).
std::span<const GoverningSysctl> governing_sysctls(UnheldKind kind);

struct TopSnapshot {
    std::uint64_t taken_ns = 0;
    std::uint64_t interval_ns = 0; // since the previous census; 0 for the first
    TopGrouping by = TopGrouping::Process;
    std::vector<TopRow> rows; // ranked (rank_rows)
    std::vector<TopUnheldRow> unheld;
    StateCounts all;            // every socket of the host, once
    std::uint32_t processes = 0; // holding sockets, before the filter
    std::uint32_t growing = 0;   // rows whose CLOSE_WAIT grew over the window
    std::uint32_t new_connections = 0;
    double new_per_second = 0;
    std::uint32_t orphans = 0;   // host-wide (tcp_max_orphans is host-wide)
    std::uint32_t time_wait = 0; // host-wide time-wait sockets
    std::uint64_t growth_window_ns = 0;
};

// Growing CLOSE_WAIT first (the fastest first), then most CLOSE_WAIT, then
// most sockets in closing states, then most sockets, then by pid: a leak is
// at the top while it grows, and stays near it while it is large.
void rank_rows(std::vector<TopRow>& rows);

// The container label of a process ("" when it is in none: the host's
// row), and the TCP sysctls of a network namespace.
using LabelOf = std::function<std::string(const CensusProcess&)>;
using LimitsOf = std::function<std::optional<TcpSysctls>(std::uint32_t netns)>;

class TopModel {
public:
    TopModel(TopGrouping by, TopFilter filter, std::uint64_t growth_window_ns);
    // The snapshot of `census`, the latest; labels only for --by container.
    TopSnapshot update(Census census, const LabelOf& label_of, const LimitsOf& limits_of);

private:
    std::vector<TopRow> process_rows(const Census& now, const CensusDelta& delta) const;
    std::vector<TopRow> container_rows(const std::vector<TopRow>& processes, const Census& now,
                                       const LabelOf& label_of) const;

    TopGrouping by_;
    TopFilter filter_;
    GrowthWindow window_;
    std::optional<Census> previous_;
};

} // namespace tcpleak
