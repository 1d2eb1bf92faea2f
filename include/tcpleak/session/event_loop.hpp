// The loop every command runs: poll the ring buffer, tick, stop on a
// signal, a deadline or a closed output.
#pragma once

#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/kernel/ring_reader.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace tcpleak {

// Longest a record waits in the ring buffer before user space reads it.
inline constexpr std::chrono::milliseconds kPollInterval{50};

enum class OnStopSignal : std::uint8_t { Stop, Continue };

// Runs until a stop signal arrives (unless on_signal says Continue: the
// caller handles it in tick), `deadline_mono_ns` passes, or `tick` returns
// false. `tick(now)` runs after every poll (at least every kPollInterval).
void run_event_loop(RingReader& reader, std::optional<std::uint64_t> deadline_mono_ns,
                    const std::function<bool(std::uint64_t now_mono_ns)>& tick,
                    OnStopSignal on_signal = OnStopSignal::Stop);

// Reads the kernel's lost-record counter at most every 100 ms and says how
// many were lost since the last report.
class LostEvents {
public:
    explicit LostEvents(const BpfSession& session) : session_(session) {}
    // Newly lost records (0 if none or not checked yet).
    std::uint64_t poll(std::uint64_t now_mono_ns);
    std::uint64_t total() const { return reported_; }

private:
    const BpfSession& session_;
    std::uint64_t reported_ = 0;
    std::uint64_t last_check_ns_ = 0;
};

// The deadline for --duration, from now.
std::optional<std::uint64_t> deadline_after(const std::optional<std::chrono::nanoseconds>& duration);

} // namespace tcpleak
