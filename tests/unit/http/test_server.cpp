// The server over real loopback sockets, with a fake clock for deadlines.
#include "loopback.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace tcpleak::http;
using namespace tcpleak::http::test;

namespace {

const std::string kBody = "# TYPE up gauge\nup 1\n";

std::string metrics_head(std::size_t length) {
    return "HTTP/1.1 200 OK\r\n"
           "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
           "Content-Length: " +
           std::to_string(length) +
           "\r\n"
           "X-Content-Type-Options: nosniff\r\n"
           "Connection: close\r\n"
           "\r\n";
}

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

// As many clients as the tests of the connection bound open at once.
constexpr int kClients = 1000;

// Whether the fd limit takes kClients clients, their accepted ends and
// more; warns (the test is skipped) when it does not.
bool fds_for_clients() {
    if (raise_fd_limit(3 * kClients) >= 3 * kClients)
        return true;
    WARN("too few file descriptors allowed for 1000 connections: skipped");
    return false;
}

// A server with /metrics, counting its calls and keeping the last query.
struct MetricsServer : TestServer {
    explicit MetricsServer(ServerLimits limits = {}) : TestServer(limits) {
        server.route("/metrics", [this](const Request& request) {
            ++calls;
            last_query = std::string(request.query);
            return Response{200, std::string(kPrometheusText), body};
        });
    }
    std::string body = kBody;
    int calls = 0;
    std::string last_query;
};

// kClients clients of ts, connected one after the other; each sends request
// as soon as it is connected (none: they stay idle).
std::vector<std::unique_ptr<Client>> connect_clients(const MetricsServer& ts, std::string_view request = {}) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<Client>(ts.port()));
        if (!request.empty())
            clients.back()->send(request);
    }
    return clients;
}

} // namespace

TEST_CASE("GET /metrics: the whole response, then the server closes") {
    MetricsServer ts;
    CHECK(round_trip(ts, "GET /metrics HTTP/1.1\r\nHost: node\r\nUser-Agent: Prometheus/2.42.0\r\n\r\n") ==
          metrics_head(kBody.size()) + kBody);
    CHECK(ts.calls == 1);
    CHECK(ts.counters().responses_by_class[2] == 1);
    CHECK(ts.counters().connections_accepted == 1);
    ts.settle();
    CHECK(ts.server.open_connections() == 0);
}

TEST_CASE("HEAD: the same headers and no body") {
    MetricsServer ts;
    CHECK(round_trip(ts, "HEAD /metrics HTTP/1.1\r\nHost: node\r\n\r\n") == metrics_head(kBody.size()));
}

TEST_CASE("404, 405 and the query string") {
    MetricsServer ts;
    CHECK(status_line(round_trip(ts, "GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n")) == "HTTP/1.1 404 Not Found");
    const std::string post = round_trip(ts, "POST /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
    CHECK(post.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
    CHECK(round_trip(ts, "GET /metrics?debug=1&x HTTP/1.1\r\nHost: a\r\n\r\n").ends_with(kBody));
    CHECK(ts.last_query == "debug=1&x");
    CHECK(ts.calls == 1);
    CHECK(ts.counters().responses_by_class[4] == 2);
    CHECK(ts.counters().malformed_requests == 0);
}

TEST_CASE("HTTP/1.0 without Host is served; other versions are 505") {
    MetricsServer ts;
    CHECK(round_trip(ts, "GET /metrics HTTP/1.0\r\n\r\n") == metrics_head(kBody.size()) + kBody);
    CHECK(status_line(round_trip(ts, "GET /metrics HTTP/2.0\r\n\r\n")) == "HTTP/1.1 505 HTTP Version Not Supported");
}

TEST_CASE("malformed requests are 400, counted") {
    MetricsServer ts;
    const std::string response = round_trip(ts, "GET /metrics\r\n\r\n");
    CHECK(status_line(response) == "HTTP/1.1 400 Bad Request");
    CHECK(response.ends_with("\r\n\r\n400 Bad Request: malformed request line\n"));
    CHECK(status_line(round_trip(ts, "GET /metrics HTTP/1.1\r\n\r\n")) == "HTTP/1.1 400 Bad Request"); // no Host
    CHECK(status_line(round_trip(ts, "GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody")) ==
          "HTTP/1.1 400 Bad Request");
    CHECK(ts.counters().malformed_requests == 3);
    CHECK(ts.calls == 0);
}

TEST_CASE("binary junk is answered 400 at once, with no line end and no timeout") {
    MetricsServer ts;
    std::string junk;
    for (int i = 0; i < 4096; ++i)
        junk.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
    CHECK(status_line(round_trip(ts, junk)) == "HTTP/1.1 400 Bad Request");
    CHECK(ts.counters().request_timeouts == 0);
}

TEST_CASE("oversized header section: 431; overlong request line: 414") {
    MetricsServer ts;
    const std::string big_header = "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n";
    CHECK(status_line(round_trip(ts, big_header)) == "HTTP/1.1 431 Request Header Fields Too Large");
    const std::string long_line = "GET /" + std::string(9000, 'm') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(status_line(round_trip(ts, long_line)) == "HTTP/1.1 414 URI Too Long");
    CHECK(ts.counters().malformed_requests == 2);
}

TEST_CASE("a slow sender is cut off at the request deadline") {
    MetricsServer ts;
    const std::int64_t start = ts.now;
    Client client(ts.port());
    client.send("GET /metrics HTTP/1.1\r\nHo");
    ts.pump_until([&] { return ts.counters().connections_accepted == 1; });
    ts.now = start + 5 * kSecondNs - 1;
    client.send("st: a\r\n"); // still not a whole head
    ts.settle();
    CHECK(ts.server.open_connections() == 1);
    ts.now = start + 5 * kSecondNs;
    ts.server.service(ts.now);
    CHECK(ts.server.open_connections() == 0);
    CHECK(ts.counters().request_timeouts == 1);
    CHECK(read_until_closed(ts, client).empty()); // closed without a response
    CHECK(ts.calls == 0);
}

TEST_CASE("a client that never reads is cut off at the write deadline") {
    MetricsServer ts;
    ts.body.assign(16 << 20, 'x'); // far more than the socket buffers hold
    Client client(ts.port(), 4096);
    client.send("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    ts.pump_until([&] { return ts.calls == 1; });
    ts.settle(); // buffers full: the server waits for the client
    CHECK(ts.server.open_connections() == 1);
    ts.now += 10 * kSecondNs - 1;
    ts.server.service(ts.now);
    CHECK(ts.server.open_connections() == 1);
    ts.now += 1;
    ts.server.service(ts.now);
    CHECK(ts.server.open_connections() == 0);
    CHECK(ts.counters().write_timeouts == 1);
}

TEST_CASE("a client closing mid-request frees its slot") {
    MetricsServer ts;
    Client client(ts.port());
    client.send("GET /metr");
    ts.pump_until([&] { return ts.counters().connections_accepted == 1; });
    client.close();
    ts.pump_until([&] { return ts.counters().client_aborts == 1; });
    CHECK(ts.server.open_connections() == 0);
    CHECK(ts.calls == 0);
}

TEST_CASE("a pipelined second request is ignored, not reset") {
    MetricsServer ts;
    const std::string response = round_trip(ts, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
                                              "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(response == metrics_head(kBody.size()) + kBody);
    CHECK(ts.calls == 1);
}

TEST_CASE("1000 connections at once: bounded, excess refused, still serving afterwards") {
    if (!fds_for_clients())
        return;
    MetricsServer ts;
    auto clients = connect_clients(ts); // all idle: none sends a request
    ts.server.service(ts.now);
    const auto taken = [&] { return ts.counters().connections_accepted + ts.counters().connections_refused; };
    CHECK(taken() <= 64); // one service() call does a bounded amount of work
    ts.pump_until([&] { return taken() == kClients; });
    CHECK(ts.server.open_connections() == 64);
    CHECK(ts.counters().connections_accepted == 64);
    CHECK(ts.counters().connections_refused == kClients - 64);
    const std::string refused = read_until_closed(ts, *clients.back());
    CHECK(status_line(refused) == "HTTP/1.1 503 Service Unavailable");
    const std::string body = "503 Service Unavailable: too many connections\n";
    CHECK(refused.ends_with("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"
                            "Retry-After: 1\r\nConnection: close\r\n\r\n" + body));

    // The idle ones hold their slots until the request deadline...
    ts.now += 5 * kSecondNs;
    ts.server.service(ts.now);
    CHECK(ts.server.open_connections() == 0);
    CHECK(ts.counters().request_timeouts == 64);
    clients.clear();
    // ...and then a scrape goes through.
    CHECK(round_trip(ts, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").ends_with(kBody));
}

TEST_CASE("1000 clients asking at once: each gets 200, 503 or a reset; never more than 64 open") {
    if (!fds_for_clients())
        return;
    MetricsServer ts;
    auto clients = connect_clients(ts, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    std::size_t most_open = 0;
    ts.pump_until([&] {
        most_open = std::max(most_open, ts.server.open_connections());
        return ts.counters().connections_accepted + ts.counters().connections_refused == kClients;
    });
    CHECK(most_open <= 64);
    int ok = 0;
    int unavailable = 0;
    for (auto& client : clients) {
        const std::string response = read_until_closed(ts, *client);
        if (response == metrics_head(kBody.size()) + kBody)
            ++ok;
        else if (status_line(response) == "HTTP/1.1 503 Service Unavailable")
            ++unavailable;
        else
            REQUIRE_MESSAGE((response.empty() && client->reset), "unexpected response: " << response);
    }
    CHECK(static_cast<std::uint64_t>(ok) == ts.counters().connections_accepted);
    CHECK(ok >= 64);
    CHECK(ok == ts.calls);
    clients.clear(); // served clients close after reading, which ends the server's lingering
    ts.pump_until([&] { return ts.server.open_connections() == 0; });
    CHECK(round_trip(ts, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").ends_with(kBody));
}

TEST_CASE("a listen address in use is one clear error") {
    TestServer first;
    const std::string address = "127.0.0.1:" + std::to_string(first.port());
    CHECK_THROWS_WITH_AS(Server(parse_listen_address(address)), ("cannot listen on " + address + ": Address already in use").c_str(),
                         std::system_error);
}
