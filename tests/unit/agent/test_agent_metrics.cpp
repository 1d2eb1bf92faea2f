// The agent's metric families, from synthetic censuses and leaks.
#include "tcpleak/agent/agent_metrics.hpp"
#include "tcpleak/agent/textfile.hpp"
#include "tcpleak/agent/workload_identifier.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace tcpleak;

namespace {

std::string rendered(const AgentMetrics& metrics) {
    std::string out;
    metrics.render(out);
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

void check_lines(const std::string& text, std::initializer_list<std::string> lines) {
    for (const std::string& line : lines) {
        INFO(line);
        CHECK(has_line(text, line));
    }
}

const Workload kPodWorkload{"/kubepods.slice/x", std::string(64, 'a'), "", "uid-1", "web-0", "shop", ""};

} // namespace

TEST_CASE("leaks: counted by workload and verdict, gauges rebuilt from the active ones") {
    AgentMetrics metrics(false, "1.0", "6.18.0");
    const ProcessLabels labels = process_labels("server", kPodWorkload, std::nullopt);
    CHECK(labels.container == "aaaaaaaaaaaa"); // no name: the short id
    for (int i = 0; i < 3; ++i)
        metrics.count_leak(labels, Verdict::Held);
    const std::vector<ActiveLeak> active(3, ActiveLeak{labels, Verdict::Held, 1'000'000'000});
    metrics.set_leaks(active, 11'000'000'000);
    std::string text = rendered(metrics);
    const std::string who = "comm=\"server\",container=\"aaaaaaaaaaaa\",pod=\"web-0\",namespace=\"shop\"";
    CHECK(has_line(text, "tcpleak_leaks_total{verdict=\"held\"," + who + "} 3"));
    CHECK(has_line(text, "tcpleak_close_wait_leaked_sockets{verdict=\"held\"," + who + "} 3"));
    CHECK(has_line(text, "tcpleak_close_wait_oldest_seconds{" + who + "} 10"));
    CHECK(has_line(text, "tcpleak_build_info{version=\"1.0\",kernel=\"6.18.0\"} 1"));

    metrics.set_leaks({}, 12'000'000'000);
    metrics.count_resolved(ResolvedHow::Close);
    text = rendered(metrics);
    CHECK(text.find("tcpleak_close_wait_leaked_sockets{") == std::string::npos);
    CHECK(has_line(text, "tcpleak_leaks_total{verdict=\"held\"," + who + "} 3"));
    CHECK(has_line(text, "tcpleak_leaks_resolved_total{how=\"close\"} 1"));
}

TEST_CASE("census: lower-case states per process, unheld sockets under comm=\"\"") {
    AgentMetrics metrics(true, "1.0", "k");
    Census census;
    CensusProcess process;
    process.pid = 42;
    process.comm = make_comm("nginx");
    process.sockets.add(kTcpCloseWait, 2);
    process.sockets.add(kTcpEstablished, 5);
    census.processes.push_back(process);
    census.unheld[UnheldKind::TimeWait].add(kTcpTimeWait, 7);
    census.unheld[UnheldKind::Orphaned].add(kTcpFinWait1, 1);
    metrics.set_census(
        census, [](const CensusProcess& p) { return process_labels(comm_view(p.comm), {}, p.pid); }, 2'500'000);
    const std::string nginx = "comm=\"nginx\",container=\"\",pod=\"\",namespace=\"\",pid=\"42\"";
    const std::string nobody = "comm=\"\",container=\"\",pod=\"\",namespace=\"\",pid=\"\"";
    check_lines(rendered(metrics), {"tcpleak_sockets{state=\"close_wait\"," + nginx + "} 2",
                                    "tcpleak_sockets{state=\"established\"," + nginx + "} 5",
                                    "tcpleak_sockets{state=\"time_wait\"," + nobody + "} 7",
                                    "tcpleak_sockets{state=\"fin_wait1\"," + nobody + "} 1",
                                    "tcpleak_scan_duration_seconds 0.0025"});
}

TEST_CASE("transitions appear once seen; losses and incompleteness are exported") {
    AgentMetrics metrics(false, "1.0", "k");
    CHECK(rendered(metrics).find("# TYPE tcpleak_state_transitions_total") == std::string::npos);
    metrics.count_transition(kTcpEstablished, kTcpCloseWait);
    metrics.observe_close_wait_exit(150'000'000); // 0.15 s
    metrics.set_tracking(12, true);
    check_lines(rendered(metrics),
                {"tcpleak_state_transitions_total{from_state=\"established\",to_state=\"close_wait\"} 1",
                 "tcpleak_close_wait_duration_seconds_count 1", "tcpleak_close_wait_duration_seconds_bucket{le=\"0.4\"} 1",
                 "tcpleak_events_lost_total 12", "tcpleak_tracking_incomplete 1",
                 "tcpleak_metrics_overflowed_updates_total{family=\"tcpleak_sockets\"} 0"});
}

TEST_CASE("the textfile is replaced whole, with no temporary left behind") {
    char dir[] = "/tmp/tcpleak-textfile-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/tcpleak.prom";
    write_textfile(path, "a 1\n");
    write_textfile(path, "b 2\n");
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    CHECK(content.str() == "b 2\n");
    CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);
    std::remove(path.c_str());
    ::rmdir(dir);
    CHECK_THROWS_AS(write_textfile("/nonexistent-dir/x.prom", "x"), std::exception);
}
