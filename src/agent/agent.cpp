// The agent's loop: the `leaks` skeleton (CommandSession + LeakWatch), with
// the HTTP responder serviced every turn and a census every --interval.
#include "tcpleak/agent/agent.hpp"

#include "tcpleak/agent/agent_events.hpp"
#include "tcpleak/agent/agent_metrics.hpp"
#include "tcpleak/agent/textfile.hpp"
#include "tcpleak/agent/workload_events.hpp"
#include "tcpleak/agent/workload_identifier.hpp"
#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/http/server.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/output/leak_output.hpp"
#include "tcpleak/session/census_reader.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"

#include <poll.h>
#include <sys/utsname.h>

#include <cstdio>
#include <system_error>
#include <unordered_map>

namespace tcpleak {

namespace {

std::string kernel_release() {
    utsname name{};
    return ::uname(&name) == 0 ? name.release : "";
}

std::unique_ptr<http::Server> listen_on(const std::string& address) {
    try {
        return std::make_unique<http::Server>(http::parse_listen_address(address));
    } catch (const std::system_error& error) {
        throw UserError(error.what());
    }
}

// The event loop wakes at least every 50 ms; between, requests wait in the
// epoll set. A turn serves what is ready, a bounded number of rounds, so a
// flood of connections cannot starve the ring buffer.
void serve_ready(http::Server& server) {
    constexpr int kRoundsPerTurn = 16;
    for (int round = 0; round < kRoundsPerTurn; ++round) {
        pollfd ready{server.poll_fd(), POLLIN, 0};
        const bool more = ::poll(&ready, 1, 0) > 0;
        server.service(static_cast<std::int64_t>(monotonic_now_ns()));
        if (!more)
            return;
    }
}

BpfConfig agent_bpf_config(const AgentOptions& options) {
    BpfConfig config;
    config.mode = ForwardMode::LeakTracking;
    config.syscall_hooks = options.exact; // the default costs other processes' syscalls nothing
    return config;
}

LeakTrackerPolicy tracker_policy(const AgentOptions& options) {
    LeakTrackerPolicy policy;
    policy.releases_watched = options.exact;
    return policy;
}

class Agent {
public:
    Agent(const AgentOptions& options, CommandSession& session, http::Server& server)
        : options_(options), session_(session), server_(server), clock_(ClockMapping::current()),
          identifier_(options.pods_dir), metrics_(options.metrics_pid, TCPLEAK_VERSION, kernel_release()),
          json_(options.json ? make_json_leak_output(session.out(), clock_) : nullptr),
          events_(metrics_, json_.get(), options.metrics_pid), identified_(identifier_, events_),
          tracker_(options.threshold, LeakFilter{options.pids, options.comm, {}}, tracker_policy(options)),
          coverage_(options.threshold), scanner_(session.bpf()), watch_(scanner_, tracker_, coverage_, identified_),
          tap_(watch_, metrics_), census_(session.bpf()) {}

    int run();

private:
    void start();
    void refresh(std::uint64_t now);
    void write_textfile_now();
    void summarize();
    http::Response metrics_response();
    ProcessLabels labels_of(const CensusProcess& process);

    const AgentOptions& options_;
    CommandSession& session_;
    http::Server& server_;
    ClockMapping clock_;
    WorkloadIdentifier identifier_;
    AgentMetrics metrics_;
    std::unique_ptr<LeakOutput> json_;
    AgentLeakEvents events_;
    WorkloadLeakEvents identified_; // -> events_
    LeakTracker tracker_;
    Coverage coverage_;
    KernelScanner scanner_;
    LeakWatch watch_;
    TransitionTap tap_;
    CensusReader census_;
    std::string exposition_; // for --textfile, reused across writes
    bool textfile_written_ = false;
    std::string textfile_error_; // the last write's, told once
    std::unordered_map<std::uint64_t, Workload> cgroups_; // this refresh's, by cgroup id
};

ProcessLabels Agent::labels_of(const CensusProcess& process) {
    auto [it, fresh] = cgroups_.try_emplace(process.cgroup);
    if (fresh)
        it->second = identifier_.of_cgroup(process.cgroup);
    const std::optional<std::uint32_t> pid = options_.metrics_pid ? std::optional(process.pid) : std::nullopt;
    return process_labels(comm_view(process.comm), it->second, pid);
}

void Agent::refresh(std::uint64_t now) {
    const std::uint64_t began = monotonic_now_ns();
    const Census census = census_.take();
    cgroups_.clear();
    metrics_.set_census(census, [&](const CensusProcess& p) { return labels_of(p); }, monotonic_now_ns() - began);
    metrics_.set_leaks(events_.active(tracker_.active()), now);
    metrics_.set_untimed(tap_.untimed());
    if (options_.textfile)
        write_textfile_now();
}

// The first write fails the start (a path that cannot take the file is the
// user's to fix); a later failure (a full disk) is told on stderr, once per
// new error, and the agent keeps serving /metrics.
void Agent::write_textfile_now() {
    metrics_.set_tracking(watch_.lost_total(), !watch_.tracking_state().complete);
    metrics_.render(exposition_);
    try {
        write_textfile(*options_.textfile, exposition_);
        textfile_error_.clear();
    } catch (const UserError& error) {
        if (!textfile_written_)
            throw;
        if (textfile_error_ != error.what())
            std::fprintf(stderr, "tcpleak agent: %s (retried every --interval)\n", error.what());
        textfile_error_ = error.what();
        return;
    }
    textfile_written_ = true;
}

http::Response Agent::metrics_response() {
    metrics_.set_tracking(watch_.lost_total(), !watch_.tracking_state().complete);
    http::Response response{200, std::string(http::kPrometheusText), {}};
    metrics_.render(response.body);
    return response;
}

void Agent::start() {
    session_.read_into(tap_);
    if (json_)
        json_->start(session_.started(), options_.threshold);
    watch_.start();
    refresh(monotonic_now_ns()); // the first scrape already has a census
    server_.route("/metrics", [this](const http::Request&) { return metrics_response(); });
    server_.route("/healthz", [](const http::Request&) { return http::Response{200, std::string(http::kTextPlain), "ok\n"}; });
    if (!identifier_.unavailable().empty())
        std::fprintf(stderr, "tcpleak agent: no container or pod labels: %s\n", identifier_.unavailable().c_str());
    // The readiness line tests and operators wait for (the port, when --listen asked for 0).
    std::fprintf(stderr, "tcpleak agent: serving http://%s/metrics\n", server_.local_address().to_string().c_str());
}

int Agent::run() {
    start();
    const auto interval_ns = static_cast<std::uint64_t>(options_.interval.count());
    std::uint64_t next_refresh = monotonic_now_ns() + interval_ns;
    session_.loop(std::nullopt, [&](std::uint64_t now, EventSource& source) {
        watch_.tick(now, source);
        serve_ready(server_);
        if (now >= next_refresh) {
            refresh(now);
            next_refresh = now + interval_ns;
        }
        return true;
    });
    if (!session_.output_gone()) {
        session_.stop([&](EventSource& source) { watch_.finish(source); });
        summarize();
    }
    return kExitOk;
}

void Agent::summarize() {
    if (!json_)
        return;
    write_leak_summary(session_, *json_, options_.threshold, tracker_, watch_);
}

} // namespace

int run_agent(const AgentOptions& options) {
    CommandSession session("agent");
    require_processes_exist(options.pids);
    const auto server = listen_on(options.listen); // before loading: a port in use fails fast
    session.load(agent_bpf_config(options));
    Agent agent(options, session, *server);
    return agent.run();
}

} // namespace tcpleak
