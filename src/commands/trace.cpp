// tcpleak trace: every TCP state transition, attributed to the socket's owner.
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/core/attribution.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/output/trace_output.hpp"
#include "tcpleak/session/command_session.hpp"
#include "tcpleak/session/socket_scanner.hpp"
#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/errors.hpp"

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
    CommandSession session("trace");
    require_processes_exist(options.pids);

    OutputBuffer& err = session.err();
    auto output = options.json ? make_json_trace_output(session.out()) : make_text_trace_output(session.out(), err);
    for (const std::uint8_t state : options.states)
        if (const std::string_view why = never_reported_because(state); !why.empty())
            err.buffer() += "tcpleak: note: --state " + std::string(tcp_state_name(state)) +
                            " matches nothing: " + std::string(why) + "\n";

    session.load(trace_config(options));
    Attributor attributor;
    // Attached first, then the descriptor tables (owners of sockets older
    // than tcpleak; named by a TCP-table walk first), then the ring buffer:
    // what happens in between is in both, and hooks win over the tables.
    NetnsLocator namespaces;
    name_every_socket(session.bpf(), namespaces);
    for (const SocketHolder& holder : session.bpf().seed_existing_sockets())
        attributor.on_existing_socket(holder);

    const ClockMapping clock = ClockMapping::current();
    TransitionPrinter printer(*output, attributor, clock, !options.pids.empty() || options.comm.has_value());
    session.read_into(printer);
    LostEvents lost(session.bpf());
    output->start(session.started());

    session.loop(deadline_after(options.duration), [&](std::uint64_t now, EventSource&) {
        if (const std::uint64_t fresh = lost.poll(now))
            output->lost(fresh, lost.total(), realtime_now_ns());
        return true;
    });
    if (session.output_gone())
        return kExitOk; // the reader went away (| head): nothing more to say

    session.stop();
    TraceSummary summary;
    session.fill(summary);
    printer.fill(summary);
    summary.owners_evicted = attributor.evictions();
    if (const std::uint64_t late = CommandSession::untold_lost(summary, lost.total()))
        output->lost(late, summary.kernel.lost(), summary.end_unix_ns);
    output->summary(summary);
    if (options.json)
        append_summary_text(err.buffer(), summary, "trace");
    session.flush();
    return kExitOk;
}

} // namespace tcpleak
