// The user-space cost of one kernel event: decode the ring-buffer record,
// then format it (trace) or feed it to the leak tracker (leaks).
// Goal: >= 2 million transitions/s on one core for decode + JSON.
#include "tcpleak/leak_tracker.hpp"
#include "tcpleak/records.hpp"
#include "tcpleak/tcp_state.hpp"
#include "tcpleak/trace_output.hpp"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/types.h>
#include <unistd.h>

#include <cstring>
#include <span>

extern "C" {
#include "tcpleak.h"
}

using namespace tcpleak;

namespace {

tl_transition sample_record(std::uint8_t old_state, std::uint8_t new_state, std::uint64_t cookie) {
    tl_transition raw{};
    raw.kind = TL_REC_TRANSITION;
    raw.family = kFamilyIpv4;
    raw.old_state = old_state;
    raw.new_state = new_state;
    raw.flags = TL_F_OWNER_KNOWN | TL_F_OLD_TIMED | TL_F_HAS_FILE;
    raw.owner_via = TL_VIA_ACCEPT;
    raw.sport = 8080;
    raw.dport = 51234;
    raw.owner_pid = 4242;
    raw.ctx_pid = 4343;
    raw.netns = 4026531840u;
    raw.ts_ns = 1'000'000'000;
    raw.cookie = cookie;
    raw.old_state_ns = 123'456;
    raw.owner_cgroup = 1;
    const std::uint8_t loopback[4] = {127, 0, 0, 1};
    std::memcpy(raw.saddr, loopback, 4);
    std::memcpy(raw.daddr, loopback, 4);
    std::memcpy(raw.owner_comm, "server", 7);
    std::memcpy(raw.ctx_comm, "client", 7);
    return raw;
}

std::span<const std::byte> bytes_of(const tl_transition& raw) {
    return {reinterpret_cast<const std::byte*>(&raw), sizeof(raw)};
}

// Output to /dev/null through the real buffered writer.
struct NullOutput {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    OutputBuffer out{fd};
    OutputBuffer err{fd, 0};
    ~NullOutput() { close(fd); }
};

void decode_only(benchmark::State& state) {
    const tl_transition raw = sample_record(kTcpEstablished, kTcpCloseWait, 1);
    Transition t;
    for (auto _ : state) {
        benchmark::DoNotOptimize(decode(bytes_of(raw), t));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(decode_only);

void decode_and_format(benchmark::State& state, bool json) {
    const tl_transition raw = sample_record(kTcpEstablished, kTcpCloseWait, 1);
    NullOutput sink;
    auto output = json ? make_json_trace_output(sink.out) : make_text_trace_output(sink.out, sink.err);
    Transition t;
    std::int64_t unix_ns = 1'763'700'000'000'000'000;
    for (auto _ : state) {
        decode(bytes_of(raw), t);
        output->transition(t, unix_ns += 7'000); // a new microsecond every event
    }
    sink.out.flush();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(decode_and_format, json, true);
BENCHMARK_CAPTURE(decode_and_format, text, false);

// leaks mode under churn: every socket enters CLOSE_WAIT and leaves it
// within microseconds, so nothing is ever reported.
void leak_tracker_churn(benchmark::State& state) {
    LeakTracker tracker(std::chrono::seconds(5));
    tl_transition enter = sample_record(kTcpEstablished, kTcpCloseWait, 0);
    tl_transition leave = sample_record(kTcpCloseWait, kTcpLastAck, 0);
    leave.flags |= TL_F_FILE_RELEASED;
    Transition t;
    std::uint64_t cookie = 1;
    std::uint64_t now = 1'000'000'000;
    for (auto _ : state) {
        enter.cookie = leave.cookie = ++cookie;
        enter.ts_ns = now += 70'000;
        leave.ts_ns = now + 10'000;
        decode(bytes_of(enter), t);
        tracker.on_transition(t);
        decode(bytes_of(leave), t);
        benchmark::DoNotOptimize(tracker.on_transition(t));
    }
    state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(leak_tracker_churn);

} // namespace

BENCHMARK_MAIN();
