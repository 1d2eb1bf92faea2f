// The user-space cost of one kernel event: decode the ring-buffer record,
// attribute it to its owner, then format it (trace) or feed it to the leak
// tracker (leaks). Goal: >= 2 million transitions/s on one core for
// decode + attribute + JSON.
#include "tcpleak/core/attribution.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/output/trace_output.hpp"
#include "support/raw_records.hpp"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>

using namespace tcpleak;
using tcpleak::test::blank;
using tcpleak::test::bytes_of;

namespace {

tl_transition sample_record(std::uint8_t old_state, std::uint8_t new_state, std::uint64_t cookie) {
    auto raw = blank<tl_transition>(TL_REC_TRANSITION);
    raw.family = kFamilyIpv4;
    raw.old_state = old_state;
    raw.new_state = new_state;
    raw.sport = 8080;
    raw.dport = 51234;
    raw.ctx_pid = 4343;
    raw.netns = 4026531840u;
    raw.ts_ns = 1'000'000'000;
    raw.cookie = cookie;
    const std::uint8_t loopback[4] = {127, 0, 0, 1};
    std::memcpy(raw.saddr, loopback, 4);
    std::memcpy(raw.daddr, loopback, 4);
    std::memcpy(raw.ctx_comm, "client", 7);
    return raw;
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

// A connection's worth of records in a loop: the owner comes from its
// accept record, its old-state time from the previous transition, and it is
// forgotten at CLOSE, as under churn.
void decode_attribute_format(benchmark::State& state, bool json) {
    NullOutput sink;
    auto output = json ? make_json_trace_output(sink.out) : make_text_trace_output(sink.out, sink.err);
    Attributor attributor;
    constexpr std::uint8_t kLife[][2] = {{kTcpListen, kTcpSynRecv},
                                         {kTcpSynRecv, kTcpEstablished},
                                         {kTcpEstablished, kTcpFinWait1},
                                         {kTcpFinWait1, kTcpFinWait2},
                                         {kTcpFinWait2, kTcpClose}};
    Transition t;
    Accept accept;
    accept.pid = 4242;
    accept.comm = make_comm("server");
    std::uint64_t cookie = 1;
    std::int64_t unix_ns = 1'763'700'000'000'000'000;
    std::uint64_t mono = 1'000'000'000;
    std::size_t step = 0;
    for (auto _ : state) {
        const tl_transition raw = sample_record(kLife[step][0], kLife[step][1], cookie);
        decode(bytes_of(raw), t);
        t.mono_ns = mono += 7'000;
        const Attribution said = attributor.attribute(t);
        output->transition(t, said, unix_ns += 7'000);
        if (step == 1) {
            accept.cookie = cookie;
            attributor.on_accept(accept);
        }
        if (++step == std::size(kLife)) {
            step = 0;
            ++cookie;
        }
    }
    sink.out.flush();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(decode_attribute_format, json, true);
BENCHMARK_CAPTURE(decode_attribute_format, text, false);


// The string escaper alone, on the names it meets: a plain comm (the fast
// path), a plain command line longer than the fast path takes, and non-ASCII
// names (well-formed UTF-8, which must be checked code point by code point).
void json_string(benchmark::State& state, std::string_view text) {
    std::string out;
    out.reserve(1024);
    for (auto _ : state) {
        out.clear();
        append_json_string(out, text);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(json_string, comm_ascii, std::string_view("nginx-worker"));
BENCHMARK_CAPTURE(json_string, cmdline_ascii,
                  std::string_view("/usr/bin/python3 /srv/app/manage.py runserver --noreload 0.0.0.0:8080"));
BENCHMARK_CAPTURE(json_string, comm_utf8, std::string_view("r\xc3\xa9" "seau-\xe2\x82\xac"));
BENCHMARK_CAPTURE(json_string, cmdline_utf8,
                  std::string_view("/opt/caf\xc3\xa9/bin/serveur --r\xc3\xa9" "pertoire /donn\xc3\xa9" "es/"
                                   "\xe6\x97\xa5\xe6\x9c\xac --nom \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));

// leaks mode under churn: every socket enters CLOSE_WAIT and leaves it
// within microseconds, so nothing is ever reported.
void leak_tracker_churn(benchmark::State& state) {
    LeakTracker tracker(std::chrono::seconds(5));
    tl_transition enter = sample_record(kTcpEstablished, kTcpCloseWait, 0);
    tl_transition leave = sample_record(kTcpCloseWait, kTcpLastAck, 0);
    leave.flags |= TL_F_FILE_RELEASED; // the owner's close()
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
