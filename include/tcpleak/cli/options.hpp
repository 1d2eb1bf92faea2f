// What the command line asks for; filled by parse_command_line (cli.hpp).
#pragma once

#include "tcpleak/sys/clock.hpp" // Duration

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tcpleak {

enum class FamilyFilter : std::uint8_t { Any, Ipv4, Ipv6 };

struct TraceOptions {
    std::vector<std::uint32_t> pids;   // -p, repeatable: owners to keep
    std::optional<std::string> comm;   // -c: owner comm, exact (max 15 bytes)
    std::vector<std::uint16_t> ports;  // --port, repeatable: local or remote
    FamilyFilter family = FamilyFilter::Any; // -4 / -6
    std::vector<std::uint8_t> states;  // --state, repeatable: into or out of
    bool json = false;                 // --json: NDJSON
    std::optional<Duration> duration;  // --duration
    int verbose = 0;                   // -v, repeatable
};

struct LeaksOptions {
    std::uint32_t states = 1U << 8;    // --state: a bit per state (default CLOSE_WAIT)
    std::vector<std::uint32_t> pids;   // -p: holders/owners to report
    std::optional<std::string> comm;   // -c
    Duration threshold = std::chrono::seconds(5); // --threshold
    Duration interval = std::chrono::seconds(2);  // --interval: text refresh
    bool json = false;
    std::optional<Duration> duration;
    int verbose = 0;
};

struct RunOptions {
    std::uint32_t states = 1U << 8;         // --state: a bit per state (default CLOSE_WAIT)
    Duration threshold = std::chrono::seconds(5);
    std::optional<std::string> json_report; // --json-report FILE
    std::optional<std::string> junit;       // --junit FILE
    int leak_exit_code = 3;                 // --leak-exit-code N (0..255)
    int incomplete_exit_code = 4;           // --incomplete-exit-code N (0..255)
    bool quiet = false;                     // -q: no report on stderr unless a leak
    std::vector<std::string> command;       // after --
    int verbose = 0;
};

// tcpleak agent: leaks and a census, as Prometheus metrics (docs/agent.md).
struct AgentOptions {
    std::string listen = "127.0.0.1:9464";    // --listen ADDR:PORT
    Duration threshold = std::chrono::seconds(5); // --threshold, as leaks
    Duration interval = std::chrono::seconds(15); // --interval: census and --textfile refresh
    bool json = false;                         // --json: NDJSON records on stdout
    std::optional<std::string> textfile;       // --textfile PATH
    std::string pods_dir = "/var/log/pods";    // --pods-dir DIR
    bool exact = false;                        // --exact: release hooks (the syscall tax) on
    bool metrics_pid = false;                  // --metrics-pid: a pid label
    std::vector<std::uint32_t> pids;           // -p
    std::optional<std::string> comm;           // -c
    int verbose = 0;
};

struct TopOptions {
    Duration interval = std::chrono::seconds(2);     // --interval: one census each
    Duration growth_window = std::chrono::minutes(1); // CLOSE_WAIT growth is measured over this
    bool by_container = false;                        // --by container (default: process)
    std::vector<std::uint32_t> pids;                  // -p: only these processes' rows
    std::optional<std::string> comm;                  // -c
    std::optional<std::uint64_t> count;               // --count N: stop after N censuses
    bool json = false;
    int verbose = 0;
};

using CommandOptions = std::variant<TraceOptions, LeaksOptions, RunOptions, TopOptions, AgentOptions>;

} // namespace tcpleak
