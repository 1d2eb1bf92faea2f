#include "tcpleak/session/command_session.hpp"

#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/clock.hpp"

#include <unistd.h>

namespace tcpleak {

CommandSession::CommandSession(std::string_view command, Streams streams)
    : command_(command), streams_(streams), out_(STDOUT_FILENO), err_(STDERR_FILENO, 0) {
    require_bpf_environment(command);
}

void CommandSession::load(const BpfConfig& config) { bpf_ = std::make_unique<BpfSession>(config); }

RingReader& CommandSession::read_into(RecordSink& sink) {
    reader_ = std::make_unique<RingReader>(bpf_->ring_buffer_fd(), sink);
    start_unix_ns_ = realtime_now_ns();
    return *reader_;
}

void CommandSession::flush() {
    if (streams_ == Streams::OutAndErr)
        out_.flush();
    err_.flush();
}

void CommandSession::loop(std::optional<std::uint64_t> deadline_mono_ns, const Tick& tick, OnStopSignal on_signal) {
    flush(); // the start record, before the first wait
    run_event_loop(
        *reader_, deadline_mono_ns,
        [&](std::uint64_t now) {
            const bool more = tick(now, *reader_);
            flush();
            return more && !output_gone();
        },
        on_signal);
}

void CommandSession::stop(const Finish& finish) {
    if (finish)
        finish(*reader_);
    bpf_->detach();
    reader_->drain_all();
    if (finish)
        finish(*reader_);
}

void CommandSession::fill(SummaryBase& summary) const {
    summary.start_unix_ns = start_unix_ns_;
    summary.end_unix_ns = realtime_now_ns();
    summary.kernel = bpf_->read_counters();
    summary.bpf_map_bytes = bpf_->map_memory_bytes();
}

} // namespace tcpleak
