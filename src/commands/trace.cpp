// tcpleak trace: every TCP state transition, attributed to the socket's owner.
#include "tcpleak/core/attribution.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/session/event_loop.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/ring_reader.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/output/trace_output.hpp"

#include <unistd.h>

#include <array>

namespace tcpleak {

namespace {

BpfConfig trace_config(const TraceOptions& options) {
    BpfConfig config;
    config.mode = ForwardMode::AllTransitions;
    config.pids = options.pids;
    config.comm = options.comm;
    config.ports = options.ports;
    config.family = options.family == FamilyFilter::Ipv4   ? kFamilyIpv4
                    : options.family == FamilyFilter::Ipv6 ? kFamilyIpv6
                                                           : 0;
    for (const std::uint8_t state : options.states) {
        config.print_states |= 1U << (state & 31);
        config.timing_states |= states_before(state);
    }
    return config;
}

// Decodes records, attributes transitions to owners and hands them to the
// output; counts for the summary.
class TransitionPrinter : public RecordSink {
public:
    // owners_filtered: -p/-c select by owner, so a transition whose socket has
    // no owner (yet) is not shown: it may be another process's.
    TransitionPrinter(TraceOutput& output, Attributor& attributor, const ClockMapping& clock, bool owners_filtered)
        : output_(output), attributor_(attributor), clock_(clock), owners_filtered_(owners_filtered) {}

    void on_record(std::span<const std::byte> raw) override {
        if (decode(raw, transition_))
            print(transition_);
        else if (decode(raw, accept_))
            attributor_.on_accept(accept_);
    }

    void print(const Transition& transition) {
        const Attribution said = attributor_.attribute(transition);
        if (transition.context_only)
            return;
        if (owners_filtered_ && !said.owner) {
            ++unowned_hidden_;
            return;
        }
        ++events_;
        owner_unknown_ += !said.owner;
        ++counts_[transition.old_state & 15][transition.new_state & 15];
        output_.transition(transition, said, clock_.to_unix_ns(transition.mono_ns));
    }

    void fill(TraceSummary& summary) const {
        summary.events = events_;
        summary.owner_unknown = owner_unknown_;
        summary.unowned_hidden = unowned_hidden_;
        for (std::uint8_t from = 0; from < 16; ++from)
            for (std::uint8_t to = 0; to < 16; ++to)
                if (counts_[from][to])
                    summary.transitions[{from, to}] = counts_[from][to];
    }

private:
    TraceOutput& output_;
    Attributor& attributor_;
    const ClockMapping& clock_;
    Transition transition_; // reused: no allocation per event
    Accept accept_;
    std::uint64_t events_ = 0;
    std::uint64_t owner_unknown_ = 0;
    std::uint64_t unowned_hidden_ = 0;
    bool owners_filtered_;
    std::array<std::array<std::uint64_t, 16>, 16> counts_{};
};

} // namespace

int run_trace(const TraceOptions& options) {
    require_bpf_environment("trace");
    require_processes_exist(options.pids);

    OutputBuffer out(STDOUT_FILENO);
    OutputBuffer err(STDERR_FILENO, 0);
    auto output = options.json ? make_json_trace_output(out) : make_text_trace_output(out, err);
    for (const std::uint8_t state : options.states)
        if (const std::string_view why = never_reported_because(state); !why.empty())
            err.buffer() += "tcpleak: note: --state " + std::string(tcp_state_name(state)) +
                            " matches nothing: " + std::string(why) + "\n";

    BpfSession session(trace_config(options));
    Attributor attributor;
    // Attached first, then the descriptor tables (owners of sockets older
    // than tcpleak), then the ring buffer: what happens in between is in
    // both, and hooks win over the tables.
    for (const SocketHolder& holder : session.seed_existing_sockets())
        attributor.on_existing_socket(holder);

    ClockMapping clock = ClockMapping::current();
    TransitionPrinter printer(*output, attributor, clock, !options.pids.empty() || options.comm.has_value());
    RingReader reader(session.ring_buffer_fd(), printer);
    LostEvents lost(session);

    const std::int64_t start_unix_ns = realtime_now_ns();
    output->start({"trace", start_unix_ns, TCPLEAK_VERSION});
    out.flush();
    err.flush();

    run_event_loop(reader, deadline_after(options.duration), [&](std::uint64_t now) {
        if (const std::uint64_t fresh = lost.poll(now))
            output->lost(fresh, lost.total(), realtime_now_ns());
        out.flush();
        err.flush();
        return !out.closed();
    });
    if (out.closed())
        return kExitOk; // the reader went away (| head): nothing more to say

    session.detach();
    reader.drain_all();
    TraceSummary summary;
    summary.start_unix_ns = start_unix_ns;
    summary.end_unix_ns = realtime_now_ns();
    summary.kernel = session.read_counters();
    summary.bpf_map_bytes = session.map_memory_bytes();
    printer.fill(summary);
    summary.owners_evicted = attributor.evictions();
    if (summary.kernel.lost() > lost.total())
        output->lost(summary.kernel.lost() - lost.total(), summary.kernel.lost(), summary.end_unix_ns);
    output->summary(summary);
    if (options.json) {
        std::string text;
        append_summary_text(text, summary, "trace");
        err.buffer() += text;
    }
    out.flush();
    err.flush();
    return kExitOk;
}

} // namespace tcpleak
