// tcpleak agent's command line.
#include "cli_support.hpp"
#include "tcpleak/cli/cli.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

using namespace tcpleak;
using namespace tcpleak::testing;
using namespace std::chrono_literals;

namespace {

// "tcpleak agent <words...>"
std::vector<const char*> agent_words(std::initializer_list<const char*> words) {
    std::vector<const char*> all{"agent"};
    all.insert(all.end(), words.begin(), words.end());
    return all;
}

ParseResult parse_agent(std::initializer_list<const char*> words) { return parse(agent_words(words)); }

AgentOptions agent_options(std::initializer_list<const char*> words) {
    return parsed_as<AgentOptions>(agent_words(words));
}

// The first line of the usage error, without "tcpleak agent: ".
std::string agent_error(std::initializer_list<const char*> words) {
    const ParseResult result = parse_agent(words);
    REQUIRE_FALSE(result.options);
    CHECK(result.exit_code == 2);
    const std::string line = result.message.substr(0, result.message.find('\n'));
    REQUIRE(line.starts_with("tcpleak agent: "));
    return line.substr(std::string("tcpleak agent: ").size());
}

} // namespace

TEST_CASE("agent defaults: loopback 9464, leaks' threshold, 15s census, no syscall hooks") {
    const AgentOptions options = agent_options({});
    CHECK(options.listen == "127.0.0.1:9464");
    CHECK(options.threshold == Duration(5s));
    CHECK(options.interval == Duration(15s));
    CHECK(options.pods_dir == "/var/log/pods");
    CHECK_FALSE(options.exact);
    CHECK_FALSE(options.metrics_pid);
    CHECK_FALSE(options.json);
    CHECK_FALSE(options.textfile);
}

TEST_CASE("agent fills every option") {
    const AgentOptions options =
        agent_options({"--listen", "[::1]:0", "--threshold", "30s", "--interval", "1s", "--json", "--textfile",
                       "/tmp/t.prom", "--pods-dir", "/tmp/pods", "--exact", "--metrics-pid", "-p", "1,2", "-c", "java"});
    CHECK(options.listen == "[::1]:0");
    CHECK(options.threshold == Duration(30s));
    CHECK(options.interval == Duration(1s));
    CHECK(options.json);
    CHECK(options.textfile == "/tmp/t.prom");
    CHECK(options.pods_dir == "/tmp/pods");
    CHECK(options.exact);
    CHECK(options.metrics_pid);
    CHECK(options.pids == std::vector<std::uint32_t>{1, 2});
    CHECK(options.comm == "java");
}

TEST_CASE("agent refuses bad values in one line") {
    CHECK(agent_error({"--listen", "nowhere"}).starts_with("--listen: listen address \"nowhere\""));
    CHECK(agent_error({"--listen", "127.0.0.1:70000"}).starts_with("--listen: "));
    CHECK(agent_error({"--interval", "0"}) == "--interval 0: must be greater than zero");
    CHECK(agent_error({"--textfile", ""}) == "--textfile '': empty file name");
    CHECK(agent_error({"--duration", "1m"}) == "--duration: not an option of agent (only of trace, leaks)");
    CHECK(agent_error({"extra"}) == "unexpected argument 'extra'; agent takes only options");
}
