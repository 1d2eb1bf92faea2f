// Each command's help text (usage, summary, notes, examples, exit status).
#include "cli_internal.hpp"

#include "tcpleak/cli/duration.hpp"
#include "tcpleak/sys/errors.hpp"

#include <string>
#include <string_view>

namespace tcpleak::cli_detail {

namespace {

const std::string kDurationNote = "DUR is 500ms, 5s, 2m, 1h or plain seconds (1.5 means 1.5s).";

} // namespace

std::string default_note(Duration duration) { return concat({" [default: ", format_duration_option(duration), "]"}); }

CommandHelp root_help() {
    return {
        "tcpleak",
        "tcpleak COMMAND [OPTIONS]",
        "Find the programs that leave TCP sockets in CLOSE_WAIT.\n"
        "A CLOSE_WAIT leak: the peer hung up, but the program never close()d its socket.",
        "Examples:\n"
        "  sudo tcpleak leaks\n"
        "      show which processes leak sockets right now\n"
        "  sudo tcpleak trace -p $(pidof nginx) --state CLOSE_WAIT\n"
        "      watch nginx's sockets enter and leave CLOSE_WAIT\n"
        "  sudo tcpleak run --junit leaks.xml -- ./soak-test.sh\n"
        "      fail a test run whose programs leak sockets\n"
        "  sudo tcpleak top\n"
        "      every process's sockets per state, live\n"
        "\n"
        "Run 'tcpleak COMMAND --help' for a command's options, examples and exit status.\n"
        "Tracing uses eBPF, so tcpleak needs root.",
    };
}

CommandHelp trace_help() {
    return {
        "trace",
        "tcpleak trace [-p PID]... [-c COMM] [--port N]... [-4|-6]\n"
        "                     [--state NAME]... [--json] [--duration DUR] [-v]",
        "Print TCP state changes live, with the process owning each socket.",
        "Different filters must all match; the values of one filter are alternatives\n"
        "(-p 1 -p 2 means PID 1 or PID 2).\n"
        "NAME is a kernel state name, in any case, with '-' or '_': ESTABLISHED,\n"
        "SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT,\n"
        "LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak trace -p $(pidof nginx) --state CLOSE_WAIT\n"
            "      nginx's sockets entering or leaving CLOSE_WAIT\n"
            "  sudo tcpleak trace --port 5432 --duration 1m\n"
            "      one minute of PostgreSQL connections changing state\n"
            "  sudo tcpleak trace --json | jq .\n"
            "      every change as one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by --duration or Ctrl-C\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

CommandHelp leaks_help() {
    return {
        "leaks",
        "tcpleak leaks [-p PID]... [-c COMM] [--threshold DUR] [--interval DUR]\n"
        "                     [--json] [--duration DUR] [-v]",
        "Report sockets stuck in CLOSE_WAIT, and the processes holding them.",
        "A socket is reported once it has sat in CLOSE_WAIT for --threshold: the\n"
        "peer hung up, and the process holding it has not called close().\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak leaks\n"
            "      report leaks as they appear, until Ctrl-C\n"
            "  sudo tcpleak leaks --threshold 30s\n"
            "      ignore sockets that are closed within 30 seconds\n"
            "  sudo tcpleak leaks -c java --json --duration 10m > leaks.ndjson\n"
            "      ten minutes of java's leaks, one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  no leak reported\n"
            "  " +
            std::to_string(kExitLeaks) +
            "  at least one leak reported\n"
            "  " +
            std::to_string(kExitIncomplete) +
            "  no leak reported, but tcpleak could not watch everything (events\n"
            "     were lost for longer than the threshold): a leak may be missed\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

CommandHelp run_help() {
    const RunOptions defaults;
    return {
        "run",
        "tcpleak run [OPTIONS] [--] COMMAND [ARGS...]",
        "Run a command and report the sockets it left in CLOSE_WAIT.",
        "COMMAND is everything after '--', passed on verbatim (options included).\n"
        "The '--' may be left out when COMMAND does not start with '-'.\n"
        "Processes of COMMAND's tree still running when it exits are ended (SIGTERM,\n"
        "then SIGKILL after 2s): none outlives tcpleak, even if tcpleak is killed.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak run --junit leaks.xml -- ./soak-test.sh\n"
            "      run the soak test; leaks become JUnit failures for CI\n"
            "  sudo tcpleak run --threshold 30s -- make integration-test\n"
            "      only count sockets left in CLOSE_WAIT for 30s or more\n"
            "  sudo tcpleak run -q -- ./server --port 8080\n"
            "      everything after '--' belongs to ./server\n"
            "\n"
            "Exit status:\n"
            "  " +
            std::to_string(defaults.leak_exit_code) +
            "      a leak was found (choose another with --leak-exit-code)\n"
            "  " +
            std::to_string(defaults.incomplete_exit_code) +
            "      no leak found, but tcpleak could not watch everything\n"
            "         (choose another with --incomplete-exit-code)\n"
            "  N      otherwise COMMAND's exit status\n"
            "  128+N  COMMAND was killed by signal N\n"
            "  1      tcpleak failed (e.g. not root)\n"
            "  2      usage error",
    };
}

CommandHelp agent_help() {
    return {
        "agent",
        "tcpleak agent [--listen ADDR:PORT] [--threshold DUR] [--interval DUR] [--json]\n"
        "                     [--textfile PATH] [--pods-dir DIR] [--exact] [--metrics-pid]\n"
        "                     [-p PID]... [-c COMM] [-v]",
        "Serve leaks and TCP socket counts as Prometheus metrics.",
        "Serves GET /metrics (Prometheus text format) and /healthz on --listen until\n"
        "SIGTERM or Ctrl-C. Leaks are found as 'tcpleak leaks' finds them; every\n"
        "--interval a census counts every TCP socket by state and holder. Leaks and\n"
        "census rows carry the holder's container, pod and namespace (from the cgroup\n"
        "and the kubelet's log directories under --pods-dir).\n"
        "By default no syscall is hooked, so other processes' syscalls pay nothing:\n"
        "verdicts then come from the holders alone (a socket closed by one process but\n"
        "kept open by another is 'held', not 'closed, still referenced'). --exact\n"
        "hooks close()/dup() for exact verdicts, at a cost on every syscall of the\n"
        "machine (docs/performance.md).\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak agent\n"
            "      metrics on http://127.0.0.1:9464/metrics\n"
            "  sudo tcpleak agent --listen 0.0.0.0:9464 --json | vector --config vector.yaml\n"
            "      metrics for the cluster's Prometheus, leak records for the log shipper\n"
            "  sudo tcpleak agent --textfile /var/lib/node_exporter/tcpleak.prom\n"
            "      metrics for node_exporter's textfile collector too\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by SIGTERM or Ctrl-C\n"
            "  1  error (e.g. not root, --listen address in use)\n"
            "  2  usage error",
    };
}

CommandHelp top_help() {
    return {
        "top",
        "tcpleak top [--interval DUR] [--by process|container] [-p PID]... [-c COMM]\n"
        "                     [--count N] [--json] [-v]",
        "Show every process's TCP sockets per state, live, like top.",
        "Every --interval, a census of the kernel's socket table (TIME_WAIT and\n"
        "connection requests included) joined with the processes' descriptors.\n"
        "Columns: SYN_S(ENT) SYN_R(ECV) ESTAB(LISHED) C_WAIT (CLOSE_WAIT) FIN_W1\n"
        "FIN_W2 L_ACK (LAST_ACK) CLOSNG (CLOSING) T_WAIT (TIME_WAIT), TOTAL (with\n"
        "LISTEN); NEW/s: new\n"
        "connections per second; CW/MIN: CLOSE_WAIT growth per minute over the last\n"
        "minute; OLDEST_CW: age of the oldest CLOSE_WAIT, at least (from the last\n"
        "segment the socket received). Growing CLOSE_WAIT sorts first.\n"
        "Sockets no process holds (orphans, TIME_WAIT, requests, unaccepted) have\n"
        "rows of their own per network namespace, with the sysctls that limit them.\n"
        "On a terminal the screen is redrawn; otherwise one table per census.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak top\n"
            "      every process with sockets, refreshed every 2s\n"
            "  sudo tcpleak top --by container --interval 5s\n"
            "      per container (cgroup), every 5 seconds\n"
            "  sudo tcpleak top --json --count 30 > census.ndjson\n"
            "      a minute of censuses, one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by Ctrl-C, SIGTERM or after --count censuses\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

std::string run_help_hint(std::string_view command) {
    return command.empty() ? concat({"Run '", kProgram, " --help' for usage.\n"})
                           : concat({"Run '", kProgram, " ", command, " --help' for usage.\n"});
}

} // namespace tcpleak::cli_detail
