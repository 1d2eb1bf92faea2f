// Drives a LeakTracker from the kernel: ring-buffer records in, descriptor
// scans for sockets past the threshold, leaks and resolutions out.
// Shared by `tcpleak leaks` and `tcpleak run`.
#pragma once

#include "tcpleak/core/attribution.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/ring_reader.hpp"

#include <cstdint>
#include <functional>

namespace tcpleak {

class LeakEvents {
public:
    virtual ~LeakEvents() = default;
    virtual void leak(const Leak& leak) = 0;                 // crossed the threshold while held
    virtual void resolved(const LeakResolved& resolved) = 0; // a reported leak left CLOSE_WAIT
    virtual void process(const ProcEvent&) {}                // run: the traced tree changed
};

class LeakWatch : public RecordSink {
public:
    // owners: attributes transitions when the kernel side sends what that
    // needs (run); nullptr for leaks, which needs no owners (and whose kernel
    // side does not send the CLOSE records that would let a table forget).
    LeakWatch(BpfSession& session, LeakTracker& tracker, LeakEvents& events, Attributor* owners);

    // Sockets already in CLOSE_WAIT, from the descriptor tables. Call once,
    // after attaching and before reading the ring buffer.
    void adopt_existing_sockets(std::uint64_t now_mono_ns);
    // Looks up the holders of sockets past the threshold and reports leaks.
    void confirm_due(std::uint64_t now_mono_ns);

    void on_record(std::span<const std::byte> raw) override;

    std::uint64_t close_wait_seen() const { return close_wait_seen_; }
    std::uint64_t owners_evicted() const { return owners_ ? owners_->evictions() : 0; }

private:
    // Reads the command line of a new leak, keeps it in the tracker, tells events_.
    void report(Leak& leak);

    BpfSession& session_;
    LeakTracker& tracker_;
    LeakEvents& events_;
    Attributor* owners_;
    Transition transition_;
    std::uint64_t close_wait_seen_ = 0;
};

} // namespace tcpleak
