// The skeleton every command that watches the kernel runs, in this order:
//
//   CommandSession session("leaks");        // preflight: one line naming what is missing
//   session.load(config);                   // BPF loaded and attached
//   session.read_into(sink);                // ring-buffer records go to sink
//   output.start(session.started());        // the start record
//   session.loop(deadline, tick);           // until a signal, the deadline or tick says stop
//   session.stop(finish);                   // drained, detached, drained to the end
//   session.fill(summary); output.summary(summary);
//
// It owns the standard output and error buffers, flushes them after every
// tick and ends the loop when standard output's reader has gone (| head),
// unless the command writes only to standard error (run: standard output is
// COMMAND's).
#pragma once

#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/kernel/ring_reader.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/output/run_info.hpp"
#include "tcpleak/session/event_loop.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace tcpleak {

class CommandSession {
public:
    // Checks that BPF can be used here (kernel/preflight.hpp); throws a
    // UserError naming the missing capability or kernel feature.
    enum class Streams : std::uint8_t { OutAndErr, ErrOnly };
    explicit CommandSession(std::string_view command, Streams streams = Streams::OutAndErr);

    void load(const BpfConfig& config);
    BpfSession& bpf() { return *bpf_; }
    const BpfSession& bpf() const { return *bpf_; }

    // From now on the ring buffer's records go to sink; the time of the
    // start record is taken here.
    RingReader& read_into(RecordSink& sink);
    StartInfo started() const { return {command_, start_unix_ns_, TCPLEAK_VERSION}; }

    OutputBuffer& out() { return out_; }
    OutputBuffer& err() { return err_; }
    void flush();

    // tick(now, source) runs after every poll of the ring buffer; false ends
    // the loop. Ends too on a stop signal (unless Continue: tick handles
    // it), at the deadline, or once standard output's reader has gone.
    using Tick = std::function<bool(std::uint64_t now_mono_ns, EventSource& source)>;
    void loop(std::optional<std::uint64_t> deadline_mono_ns, const Tick& tick,
              OnStopSignal on_signal = OnStopSignal::Stop);
    // The loop ended because standard output's reader went away.
    bool output_gone() const { return streams_ == Streams::OutAndErr && out_.closed(); }

    // The stop path. finish(source) runs with everything still attached
    // (what is queued, the scans due now), then the programs are detached,
    // every record they left is read, and finish runs again: the last
    // moments' records, with the kernel's tables still readable.
    using Finish = std::function<void(EventSource& source)>;
    void stop(const Finish& finish = {});

    // start and end times (end: now), kernel counters, BPF memory.
    void fill(SummaryBase& summary) const;
    // Records lost that `told` (what the outputs said during the run) does
    // not include yet: the count to tell before the summary, or 0.
    static std::uint64_t untold_lost(const SummaryBase& summary, std::uint64_t told) {
        return summary.kernel.lost() > told ? summary.kernel.lost() - told : 0;
    }

private:
    std::string_view command_;
    Streams streams_;
    OutputBuffer out_;
    OutputBuffer err_;
    std::unique_ptr<BpfSession> bpf_;
    std::unique_ptr<RingReader> reader_;
    std::int64_t start_unix_ns_ = 0;
};

} // namespace tcpleak
