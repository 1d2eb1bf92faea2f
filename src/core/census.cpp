#include "tcpleak/core/census.hpp"

#include "tcpleak/core/cookie_index.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

namespace tcpleak {

std::uint32_t StateCounts::total() const {
    return std::accumulate(by_state.begin(), by_state.end(), std::uint32_t{0});
}

std::uint32_t StateCounts::closing() const {
    std::uint32_t n = 0;
    for (std::size_t state = 0; state < by_state.size(); ++state)
        if (is_closing_state(static_cast<std::uint8_t>(state)))
            n += by_state[state];
    return n;
}

std::uint32_t UnheldCensus::total() const {
    std::uint32_t n = 0;
    for (const StateCounts& counts : by_kind)
        n += counts.total();
    return n;
}

std::string_view unheld_kind_name(UnheldKind kind) {
    switch (kind) {
    case UnheldKind::Orphaned: return "orphaned";
    case UnheldKind::TimeWait: return "time_wait";
    case UnheldKind::Request: return "request";
    case UnheldKind::NotAccepted: return "not_accepted";
    case UnheldKind::NoDescriptor: return "no_descriptor";
    }
    return "unknown";
}

bool supersedes(const TcpSocket& a, const TcpSocket& b) {
    if (a.read_mono_ns != b.read_mono_ns)
        return a.read_mono_ns > b.read_mono_ns;
    return a.time_wait && !b.time_wait;
}

const CensusProcess* Census::find(std::uint32_t pid) const {
    const auto it = std::lower_bound(by_pid.begin(), by_pid.end(), pid,
                                     [this](std::uint32_t row, std::uint32_t p) { return processes[row].pid < p; });
    return it != by_pid.end() && processes[*it].pid == pid ? &processes[*it] : nullptr;
}

namespace {

constexpr std::uint32_t kNone = CookieIndex::kNone;

// A socket with no file (orphan flag) in one of these was accepted later, or
// not yet: the states of a connection nobody has closed.
bool queued_state(std::uint8_t state) {
    return state == kTcpEstablished || state == kTcpSynRecv || state == kTcpCloseWait;
}

// Where a socket goes: held (by its first holder), or an unheld kind. The
// rules and why: census.hpp, "Which snapshot wins".
struct Placement {
    bool held = false;
    UnheldKind kind = UnheldKind::Orphaned;
};

Placement place(const TcpSocket& s, bool has_holder) {
    if (s.request)
        return {false, UnheldKind::Request};
    if (s.time_wait)
        return {false, UnheldKind::TimeWait};
    if (s.orphan) {
        if (!queued_state(s.state))
            return {false, UnheldKind::Orphaned};
        return has_holder ? Placement{true, {}} : Placement{false, UnheldKind::NotAccepted};
    }
    return has_holder ? Placement{true, {}} : Placement{false, UnheldKind::NoDescriptor};
}

// The latest the socket can have entered CLOSE_WAIT (its age is a lower
// bound as of when it was read), from the TCP table or else the holder.
std::optional<std::uint64_t> close_wait_entered_by(const TcpSocket& s, const SocketHolder* h) {
    if (s.age_ns && *s.age_ns <= s.read_mono_ns)
        return s.read_mono_ns - *s.age_ns;
    if (h && h->close_wait_age_ns && *h->close_wait_age_ns <= h->read_mono_ns)
        return h->read_mono_ns - *h->close_wait_age_ns;
    return std::nullopt;
}

// Keeps the oldest of CLOSE_WAIT entry bounds, as an age at now_ns.
void keep_oldest(std::optional<std::uint64_t>& oldest_age, std::uint64_t entered_by, std::uint64_t now_ns) {
    const std::uint64_t age = now_ns > entered_by ? now_ns - entered_by : 0;
    if (!oldest_age || age > *oldest_age)
        oldest_age = age;
}

class CensusBuilder {
public:
    CensusBuilder(std::span<const TcpSocket> sockets, std::span<const SocketHolder> holders, std::uint64_t now_ns)
        : sockets_(sockets), holders_(holders), socket_of_(sockets.size()), row_of_pid_(256), walked_netns_(64), netns_unheld_(64) {
        census_.taken_ns = now_ns;
    }

    Census build() {
        index_sockets();
        find_first_holders();
        count_sockets();
        count_also_held();
        order_rows();
        std::sort(census_.unheld_by_netns.begin(), census_.unheld_by_netns.end(),
                  [](const NetnsUnheld& a, const NetnsUnheld& b) { return a.netns < b.netns; });
        return std::move(census_);
    }

private:
    // cookie -> index of the record that counts (the newer of duplicates).
    void index_sockets() {
        superseded_.assign(sockets_.size(), 0);
        for (std::uint32_t i = 0; i < sockets_.size(); ++i) {
            const TcpSocket& s = sockets_[i];
            walked_netns_.insert(std::uint64_t{s.netns} + 1, 0);
            if (s.cookie == 0) {
                ++census_.no_cookie;
                superseded_[i] = 1;
                continue;
            }
            const auto [kept, inserted] = socket_of_.insert(s.cookie, i);
            if (inserted)
                continue;
            ++census_.duplicate_sockets;
            if (supersedes(s, sockets_[*kept])) {
                superseded_[*kept] = 1;
                *kept = i;
            } else {
                superseded_[i] = 1;
            }
        }
    }

    // first_[socket] = its holder record with the lowest (pid, fd). The pid
    // and fd are copied next to it: the holders are big records met in a
    // random order, and the copies spare a cache miss per comparison.
    void find_first_holders() {
        first_.assign(sockets_.size(), First{});
        holder_socket_.assign(holders_.size(), kNone);
        for (std::uint32_t j = 0; j < holders_.size(); ++j) {
            const SocketHolder& h = holders_[j];
            const std::uint32_t i = socket_of_.find(h.cookie);
            if (i == kNone) {
                if (walked_netns_.contains(std::uint64_t{h.netns} + 1))
                    ++census_.stale_holders; // closed between the two walks, or cookie 0
                else
                    ++census_.holders_not_walked;
                continue;
            }
            holder_socket_[j] = i;
            First& first = first_[i];
            if (first.record == kNone || std::tie(h.pid, h.fd) < std::tie(first.pid, first.fd))
                first = {h.pid, h.fd, j};
        }
    }

    void count_sockets() {
        const std::size_t kept = sockets_.size() - static_cast<std::size_t>(std::count(superseded_.begin(), superseded_.end(), 1));
        census_.cookies.reserve(kept);
        census_.rows.reserve(kept);
        census_.states.reserve(kept);
        counted_row_.assign(sockets_.size(), Census::kUnheldRow);
        for (std::uint32_t i = 0; i < sockets_.size(); ++i)
            if (!superseded_[i])
                count_socket(i);
    }

    void count_socket(std::uint32_t i) {
        const TcpSocket& s = sockets_[i];
        const First& first = first_[i];
        const Placement where = place(s, first.record != kNone);
        census_.all.add(s.state);
        census_.cookies.push_back(s.cookie);
        census_.states.push_back(s.state);
        if (!where.held) {
            census_.unheld[where.kind].add(s.state);
            unheld_of(s.netns)[where.kind].add(s.state);
            if (where.kind == UnheldKind::NotAccepted && s.state == kTcpCloseWait)
                if (const auto entered = close_wait_entered_by(s, nullptr))
                    keep_oldest(census_.unheld.oldest_not_accepted_close_wait_ns, *entered, census_.taken_ns);
            census_.rows.push_back(Census::kUnheldRow);
            return;
        }
        const std::uint32_t row = row_for(first.pid, first.record);
        CensusProcess& p = census_.processes[row];
        p.sockets.add(s.state);
        if (s.state == kTcpCloseWait)
            if (const auto entered = close_wait_entered_by(s, &holders_[first.record]))
                keep_oldest(p.oldest_close_wait_ns, *entered, census_.taken_ns);
        counted_row_[i] = row;
        census_.rows.push_back(row);
    }

    // Holders other than the first: each distinct (pid, socket) once, in its
    // own process's also_held. Shared sockets are few (inherited listeners,
    // fork()ed connections), so sorting just those is cheap. Records of
    // sockets that turned out unheld are stale.
    void count_also_held() {
        std::vector<std::pair<std::uint32_t, std::uint32_t>> shared; // (pid, holder record)
        for (std::uint32_t j = 0; j < holders_.size(); ++j) {
            const std::uint32_t i = holder_socket_[j];
            if (i == kNone)
                continue;
            if (counted_row_[i] == Census::kUnheldRow) {
                ++census_.stale_holders;
                continue;
            }
            if (holders_[j].pid != first_[i].pid)
                shared.emplace_back(holders_[j].pid, j);
        }
        std::sort(shared.begin(), shared.end(), [this](const auto& a, const auto& b) {
            return std::tie(a.first, holder_socket_[a.second], holders_[a.second].fd) <
                   std::tie(b.first, holder_socket_[b.second], holders_[b.second].fd);
        });
        for (std::size_t k = 0; k < shared.size(); ++k) {
            const auto [pid, j] = shared[k];
            if (k > 0 && shared[k - 1].first == pid && holder_socket_[shared[k - 1].second] == holder_socket_[j])
                continue; // another descriptor of the same socket in the same process
            census_.processes[row_for(pid, j)].also_held.add(sockets_[holder_socket_[j]].state);
        }
    }

    UnheldCensus& unheld_of(std::uint32_t netns) {
        auto& list = census_.unheld_by_netns;
        const auto [index, inserted] =
            netns_unheld_.insert(std::uint64_t{netns} + 1, static_cast<std::uint32_t>(list.size()));
        if (inserted)
            list.push_back({netns, {}});
        return list[*index].unheld;
    }

    // The row of pid; a new one takes its name and cgroup from `record`.
    std::uint32_t row_for(std::uint32_t pid, std::uint32_t record) {
        const auto [row, inserted] =
            row_of_pid_.insert(std::uint64_t{pid} + 1, static_cast<std::uint32_t>(census_.processes.size()));
        if (inserted) {
            const SocketHolder& h = holders_[record];
            CensusProcess p;
            p.pid = h.pid;
            p.comm = h.comm;
            p.cgroup = h.cgroup;
            census_.processes.push_back(p);
        }
        return *row;
    }

    // Most CLOSE_WAIT first, then by pid; rows renumbered to match.
    void order_rows() {
        auto& processes = census_.processes;
        std::vector<std::uint32_t> order(processes.size());
        std::iota(order.begin(), order.end(), 0U);
        std::sort(order.begin(), order.end(), [&processes](std::uint32_t a, std::uint32_t b) {
            const CensusProcess& x = processes[a];
            const CensusProcess& y = processes[b];
            return x.close_wait() != y.close_wait() ? x.close_wait() > y.close_wait() : x.pid < y.pid;
        });
        std::vector<std::uint32_t> new_row(processes.size());
        std::vector<CensusProcess> sorted;
        sorted.reserve(processes.size());
        for (std::uint32_t k = 0; k < order.size(); ++k) {
            new_row[order[k]] = k;
            sorted.push_back(std::move(processes[order[k]]));
        }
        processes = std::move(sorted);
        for (std::uint32_t& row : census_.rows)
            if (row != Census::kUnheldRow)
                row = new_row[row];
        census_.by_pid.resize(processes.size());
        std::iota(census_.by_pid.begin(), census_.by_pid.end(), 0U);
        std::sort(census_.by_pid.begin(), census_.by_pid.end(),
                  [&processes](std::uint32_t a, std::uint32_t b) { return processes[a].pid < processes[b].pid; });
    }

    std::span<const TcpSocket> sockets_;
    std::span<const SocketHolder> holders_;
    CookieIndex socket_of_;                  // cookie -> socket record
    CookieIndex row_of_pid_;                 // pid + 1 -> row (before ordering)
    CookieIndex walked_netns_;               // netns + 1 of every socket: the namespaces the TCP walk covered
    CookieIndex netns_unheld_;               // netns + 1 -> index of unheld_by_netns
    std::vector<std::uint8_t> superseded_;   // per socket record: a duplicate that does not count
    struct First {
        std::uint32_t pid = 0;
        std::uint32_t fd = 0;
        std::uint32_t record = kNone; // index into holders_, kNone: no holder
    };
    std::vector<First> first_;                // per socket record: its first holder
    std::vector<std::uint32_t> holder_socket_; // per holder record: its socket record, or kNone
    std::vector<std::uint32_t> counted_row_;  // per socket record: the row it counts for (before ordering)
    Census census_;
};

} // namespace

Census take_census(std::span<const TcpSocket> sockets, std::span<const SocketHolder> holders, std::uint64_t now_ns) {
    return CensusBuilder(sockets, holders, now_ns).build();
}

// ---- delta ----

namespace {

double per_second(std::uint64_t count, std::uint64_t interval_ns) {
    return interval_ns == 0 ? 0.0 : static_cast<double>(count) * 1e9 / static_cast<double>(interval_ns);
}

double per_minute(std::int64_t change, std::uint64_t interval_ns) {
    return interval_ns == 0 ? 0.0 : static_cast<double>(change) * 60e9 / static_cast<double>(interval_ns);
}

std::uint32_t unheld_close_wait(const Census& c) {
    return c.unheld[UnheldKind::NotAccepted][kTcpCloseWait] + c.unheld[UnheldKind::NoDescriptor][kTcpCloseWait];
}

// The same process in both censuses: same pid, same cgroup (a reused pid
// usually lands elsewhere; exec keeps both, and is the same process).
const CensusProcess* same_process(const Census& before, const CensusProcess& now) {
    const CensusProcess* p = before.find(now.pid);
    return p && p->cgroup == now.cgroup ? p : nullptr;
}

void sort_for_top(std::vector<ProcessDelta>& deltas, const Census& now) {
    std::sort(deltas.begin(), deltas.end(), [&now](const ProcessDelta& a, const ProcessDelta& b) {
        const std::int64_t growth_a = a.growing() ? a.close_wait_change : 0;
        const std::int64_t growth_b = b.growing() ? b.close_wait_change : 0;
        const CensusProcess& x = now.processes[a.row];
        const CensusProcess& y = now.processes[b.row];
        return std::make_tuple(-growth_a, -static_cast<std::int64_t>(x.close_wait()), -static_cast<std::int64_t>(x.total()), a.pid) <
               std::make_tuple(-growth_b, -static_cast<std::int64_t>(y.close_wait()), -static_cast<std::int64_t>(y.total()), b.pid);
    });
}

} // namespace

CensusDelta census_delta(const Census& before, const Census& now) {
    CensusDelta delta;
    delta.interval_ns = now.taken_ns > before.taken_ns ? now.taken_ns - before.taken_ns : 0;

    CookieIndex seen(before.cookies.size());
    for (std::uint64_t cookie : before.cookies)
        seen.insert(cookie, 0);
    std::vector<std::uint32_t> new_per_row(now.processes.size(), 0);
    for (std::size_t k = 0; k < now.cookies.size(); ++k) {
        if (now.states[k] == kTcpListen || seen.contains(now.cookies[k]))
            continue;
        ++delta.new_connections;
        if (now.rows[k] == Census::kUnheldRow)
            ++delta.new_unheld;
        else
            ++new_per_row[now.rows[k]];
    }
    delta.new_per_second = per_second(delta.new_connections, delta.interval_ns);

    delta.processes.reserve(now.processes.size());
    for (std::uint32_t row = 0; row < now.processes.size(); ++row) {
        const CensusProcess& p = now.processes[row];
        const CensusProcess* was = same_process(before, p);
        ProcessDelta d;
        d.pid = p.pid;
        d.comm = p.comm;
        d.cgroup = p.cgroup;
        d.row = row;
        d.new_connections = new_per_row[row];
        d.new_per_second = per_second(d.new_connections, delta.interval_ns);
        d.close_wait_change = static_cast<std::int64_t>(p.close_wait()) - (was ? was->close_wait() : 0);
        d.close_wait_per_minute = per_minute(d.close_wait_change, delta.interval_ns);
        d.new_process = was == nullptr;
        if (d.growing())
            ++delta.growing;
        delta.processes.push_back(d);
    }
    sort_for_top(delta.processes, now);

    for (const CensusProcess& p : before.processes)
        if (!now.find(p.pid))
            ++delta.processes_gone;
    delta.unheld_close_wait_change =
        static_cast<std::int64_t>(unheld_close_wait(now)) - static_cast<std::int64_t>(unheld_close_wait(before));
    return delta;
}

} // namespace tcpleak
