#include "tcpleak/http/listen_address.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>

#include <stdexcept>
#include <string>

using namespace tcpleak::http;

namespace {

std::string parse_error(std::string_view text) {
    try {
        parse_listen_address(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("numeric IPv4 and IPv6 listen addresses") {
    const ListenAddress v4 = parse_listen_address("127.0.0.1:9464");
    CHECK(v4.family() == AF_INET);
    CHECK(v4.port() == 9464);
    CHECK(v4.size() == sizeof(sockaddr_in));
    CHECK(v4.to_string() == "127.0.0.1:9464");
    CHECK(parse_listen_address("0.0.0.0:1").to_string() == "0.0.0.0:1");
    const ListenAddress v6 = parse_listen_address("[::1]:9464");
    CHECK(v6.family() == AF_INET6);
    CHECK(v6.size() == sizeof(sockaddr_in6));
    CHECK(v6.to_string() == "[::1]:9464");
    CHECK(parse_listen_address("[::]:65535").to_string() == "[::]:65535");
    CHECK(parse_listen_address("[fd00::a:1]:80").to_string() == "[fd00::a:1]:80");
}

TEST_CASE("localhost is 127.0.0.1, and port 0 asks for any free port") {
    CHECK(parse_listen_address("localhost:9464").to_string() == "127.0.0.1:9464");
    CHECK(parse_listen_address("127.0.0.1:0").port() == 0);
}

TEST_CASE("bad listen addresses are one clear line each") {
    const std::string example = " (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)";
    CHECK(parse_error("") == "listen address \"\": empty" + example);
    CHECK(parse_error("127.0.0.1") == "listen address \"127.0.0.1\": missing port" + example);
    CHECK(parse_error("127.0.0.1:") == "listen address \"127.0.0.1:\": missing port" + example);
    CHECK(parse_error("[::1]") == "listen address \"[::1]\": missing port" + example);
    CHECK(parse_error("127.0.0.1:65536") == "listen address \"127.0.0.1:65536\": port 65536 is out of range 0-65535");
    CHECK(parse_error("127.0.0.1:99999999999999999999") ==
          "listen address \"127.0.0.1:99999999999999999999\": port 99999999999999999999 is out of range 0-65535");
    CHECK(parse_error("127.0.0.1:-1") == "listen address \"127.0.0.1:-1\": port \"-1\" is not a number");
    CHECK(parse_error("127.0.0.1:94x") == "listen address \"127.0.0.1:94x\": port \"94x\" is not a number");
    CHECK(parse_error(":9464") ==
          "listen address \":9464\": missing host (0.0.0.0 listens on all IPv4 addresses, [::] on all)");
    CHECK(parse_error("::1:9464") == "listen address \"::1:9464\": IPv6 addresses need brackets, e.g. [::1]:9464");
    CHECK(parse_error("[::1:9464") == "listen address \"[::1:9464\": missing ']' after the IPv6 address");
    CHECK(parse_error("[::1]9464") == "listen address \"[::1]9464\": expected ':' and a port after ']'");
    CHECK(parse_error("[]:9464") == "listen address \"[]:9464\": missing host");
    CHECK(parse_error("example.com:9464") == "listen address \"example.com:9464\": \"example.com\" is not a numeric "
                                             "IPv4 address (host names other than localhost are not resolved)");
    CHECK(parse_error("127.1:9464") == "listen address \"127.1:9464\": \"127.1\" is not a numeric IPv4 address "
                                       "(host names other than localhost are not resolved)");
    CHECK(parse_error("[127.0.0.1]:9464") ==
          "listen address \"[127.0.0.1]:9464\": \"127.0.0.1\" is not a numeric IPv6 address");
    CHECK(parse_error("[fe80::1%eth0]:9464") ==
          "listen address \"[fe80::1%eth0]:9464\": IPv6 zone ids (%...) are not supported");
    CHECK(parse_error("a\nb:1") == "listen address \"a?b:1\": \"a?b\" is not a numeric IPv4 address "
                                   "(host names other than localhost are not resolved)");
}
