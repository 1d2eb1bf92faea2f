// tcpleak top: a live census of every TCP socket, per process or container.
#include "tcpleak/cli/options.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/identity/container_label.hpp"
#include "tcpleak/identity/error.hpp"
#include "tcpleak/identity/identity.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/output/top_output.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/session/top_sampler.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <memory>

namespace tcpleak {

namespace {

// top reads tables and needs no event: nothing hooked, no per-event cost.
class NoRecords final : public RecordSink {
public:
    void on_record(std::span<const std::byte>) override {}
};

std::size_t terminal_rows() {
    winsize size{};
    return ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 ? size.ws_row : 0;
}

// Labels from the cgroup each holder record carries; built only for --by
// container (it walks the cgroup tree once).
class ContainerLabels {
public:
    ContainerLabels() try : cgroups_(), resolver_(cgroups_, nullptr) {
    } catch (const identity::IdentityError& error) {
        throw UserError(std::string("--by container: ") + error.what());
    }
    std::string operator()(const CensusProcess& p) { return identity::container_label(*resolver_.of_cgroup(p.cgroup)); }

private:
    identity::CgroupPaths cgroups_;
    identity::IdentityResolver resolver_;
};

std::unique_ptr<TopOutput> make_output(const TopOptions& options, CommandSession& session) {
    if (options.json)
        return make_json_top_output(session.out());
    return make_text_top_output(session.out(), isatty(STDOUT_FILENO) == 1, terminal_rows);
}

LabelOf labels_for(const TopOptions& options) {
    if (!options.by_container)
        return {};
    auto labels = std::make_shared<ContainerLabels>();
    return [labels](const CensusProcess& p) { return (*labels)(p); };
}

} // namespace

int run_top(const TopOptions& options) {
    CommandSession session("top");
    require_processes_exist(options.pids);
    const TopGrouping by = options.by_container ? TopGrouping::Container : TopGrouping::Process;
    const auto interval_ns = static_cast<std::uint64_t>(options.interval.count());
    const auto window_ns = static_cast<std::uint64_t>(options.growth_window.count());

    BpfConfig config;
    config.transitions = false;   // only the iterators: a census needs no event
    config.syscall_hooks = false; // and no syscall may pay for top
    session.load(config);
    NoRecords no_records;
    session.read_into(no_records);

    TopSampler sampler(session.bpf(), TopModel(by, TopFilter{options.pids, options.comm}, window_ns),
                       labels_for(options));
    const std::unique_ptr<TopOutput> output = make_output(options, session);
    output->start({session.started(), interval_ns, window_ns, by});

    TopSummary summary;
    std::uint64_t next_census = monotonic_now_ns();
    session.loop(std::nullopt, [&](std::uint64_t now, EventSource&) {
        if (now < next_census)
            return true;
        const TopSample sample = sampler.sample();
        output->snapshot(sample.snapshot, realtime_now_ns(), sample.scan);
        ++summary.snapshots;
        summary.scan_ns_total += sample.scan.took_ns;
        summary.scan_ns_max = std::max(summary.scan_ns_max, sample.scan.took_ns);
        // From the planned time, not from now: the interval does not drift
        // by the scan's duration; a scan longer than it skips, not piles up.
        next_census = std::max(next_census + interval_ns, monotonic_now_ns());
        return !options.count || summary.snapshots < *options.count;
    });
    if (session.output_gone())
        return kExitOk;
    session.stop();
    session.fill(summary);
    output->summary(summary);
    session.flush();
    return kExitOk;
}

} // namespace tcpleak
