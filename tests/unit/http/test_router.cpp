#include "tcpleak/http/response.hpp"
#include "tcpleak/http/router.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace tcpleak::http;

namespace {

Request get(std::string_view path, std::string_view method = "GET") {
    return {method, path, path, {}, 1};
}

std::string wire(const Response& response, bool head_only = false) {
    std::string out;
    serialize_response(out, response, head_only);
    return out;
}

} // namespace

TEST_CASE("responses on the wire: Content-Length, Connection: close, no body for HEAD") {
    const Response metrics{200, std::string(kPrometheusText), "up 1\n"};
    const std::string head = "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                             "Content-Length: 5\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "Connection: close\r\n"
                             "\r\n";
    CHECK(wire(metrics) == head + "up 1\n");
    CHECK(wire(metrics, true) == head);
    CHECK(wire(error_response(405)) == "HTTP/1.1 405 Method Not Allowed\r\n"
                                       "Content-Type: text/plain; charset=utf-8\r\n"
                                       "Content-Length: 23\r\n"
                                       "Allow: GET, HEAD\r\n"
                                       "X-Content-Type-Options: nosniff\r\n"
                                       "Connection: close\r\n"
                                       "\r\n"
                                       "405 Method Not Allowed\n");
    CHECK(error_response(400, "missing Host header").body == "400 Bad Request: missing Host header\n");
}

TEST_CASE("routing: exact paths, GET and HEAD only, 404 before 405") {
    Router router;
    int calls = 0;
    router.add("/metrics", [&](const Request&) {
        ++calls;
        return Response{200, std::string(kPrometheusText), "up 1\n"};
    });
    std::uint64_t handler_errors = 0;
    CHECK(router.respond(get("/metrics"), handler_errors).body == "up 1\n");
    CHECK(router.respond(get("/metrics", "HEAD"), handler_errors).status == 200);
    CHECK(calls == 2);
    CHECK(router.respond(get("/metrics/"), handler_errors).status == 404);
    CHECK(router.respond(get("/Metrics"), handler_errors).status == 404);
    CHECK(router.respond(get("/metrics", "POST"), handler_errors).status == 405);
    CHECK(router.respond(get("/metrics", "get"), handler_errors).status == 405); // methods are case-sensitive
    CHECK(router.respond(get("/nowhere", "DELETE"), handler_errors).status == 404);
    CHECK(calls == 2);
    CHECK(handler_errors == 0);
    CHECK_THROWS_AS(router.add("metrics", {}), std::invalid_argument);
}

TEST_CASE("a failing handler is a 500, counted") {
    Router router;
    router.add("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    router.add("/throws-int", [](const Request&) -> Response { throw 42; });
    router.add("/split", [](const Request&) { return Response{200, "text/plain\r\nSet-Cookie: x", ""}; });
    router.add("/status", [](const Request&) { return Response{101, "text/plain", ""}; });
    router.add("/busy", [](const Request&) { return error_response(503, "not ready"); });
    std::uint64_t handler_errors = 0;
    CHECK(router.respond(get("/throws"), handler_errors).body == "500 Internal Server Error\n");
    CHECK(router.respond(get("/throws-int"), handler_errors).status == 500);
    CHECK(router.respond(get("/split"), handler_errors).status == 500);
    CHECK(router.respond(get("/status"), handler_errors).status == 500);
    CHECK(handler_errors == 4);
    CHECK(router.respond(get("/busy"), handler_errors).status == 503); // a handler may refuse on purpose
    CHECK(handler_errors == 4);
}
