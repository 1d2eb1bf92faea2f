// Over 500 lines: run's report in text, JSON and JUnit, one case per situation, with the samples they share.
#include "tcpleak/report/run_report.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include "golden.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

using namespace tcpleak;
using namespace tcpleak::test;

namespace {

// ---------------------------------------------------------------- XML, read by libxml2
//
// Every JUnit document is parsed by libxml2 (XML 1.0, no network, no
// recovery), validated against docs/junit.xsd, and its counts checked
// against its elements; the assertions then read a plain copy of the tree.

struct XmlElement {
    std::string name;
    std::vector<std::pair<std::string, std::string>> attributes; // decoded values
    std::vector<XmlElement> children;
    std::string text; // decoded character data directly inside, concatenated

    std::optional<std::string> attribute(std::string_view key) const {
        for (const auto& [k, v] : attributes)
            if (k == key)
                return v;
        return std::nullopt;
    }
    std::vector<const XmlElement*> all(std::string_view child_name) const {
        std::vector<const XmlElement*> found;
        for (const XmlElement& child : children)
            if (child.name == child_name)
                found.push_back(&child);
        return found;
    }
};

// libxml2's messages since the last clear, for the failure messages.
std::string& xml_errors() {
    static std::string errors;
    return errors;
}

void collect_xml_error(void*, xmlErrorPtr error) {
    if (error != nullptr && error->message != nullptr)
        xml_errors() += "line " + std::to_string(error->line) + ": " + error->message;
}

struct XmlDocDeleter {
    void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocDeleter>;

XmlDoc read_xml(std::string_view doc) {
    xml_errors().clear();
    xmlSetStructuredErrorFunc(nullptr, collect_xml_error);
    return XmlDoc(xmlReadMemory(doc.data(), static_cast<int>(doc.size()), "report.xml", nullptr, XML_PARSE_NONET));
}

std::string xml_string(const xmlChar* text) { return text == nullptr ? std::string() : reinterpret_cast<const char*>(text); }

XmlElement copy_element(const xmlNode* node) {
    XmlElement element;
    element.name = xml_string(node->name);
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
        xmlChar* value = xmlNodeListGetString(node->doc, a->children, 1);
        element.attributes.emplace_back(xml_string(a->name), xml_string(value));
        xmlFree(value);
    }
    for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            element.children.push_back(copy_element(child));
        else if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
            element.text += xml_string(child->content);
    }
    return element;
}

bool well_formed(std::string_view doc) { return read_xml(doc) != nullptr; }

XmlElement parse_xml(const std::string& doc) {
    const XmlDoc parsed = read_xml(doc);
    INFO(doc);
    REQUIRE_MESSAGE(parsed != nullptr, xml_errors());
    return copy_element(xmlDocGetRootElement(parsed.get()));
}

// docs/junit.xsd, loaded once.
xmlSchema* junit_schema() {
    static xmlSchema* schema = [] {
        xmlSchemaParserCtxt* context = xmlSchemaNewParserCtxt(TCPLEAK_JUNIT_XSD);
        xmlSchema* parsed = context ? xmlSchemaParse(context) : nullptr;
        xmlSchemaFreeParserCtxt(context);
        return parsed;
    }();
    REQUIRE_MESSAGE(schema != nullptr, "cannot load " TCPLEAK_JUNIT_XSD);
    return schema;
}

std::size_t count_descendants(const XmlElement& element, std::string_view name) {
    std::size_t n = 0;
    for (const XmlElement& child : element.children)
        n += (child.name == name) + count_descendants(child, name);
    return n;
}

// The counts a reporter reads must be the elements it would find.
void check_counts(const XmlElement& element) {
    INFO("<" << element.name << ">");
    CHECK(element.attribute("tests") == std::to_string(count_descendants(element, "testcase")));
    CHECK(element.attribute("failures") == std::to_string(count_descendants(element, "failure")));
    CHECK(element.attribute("errors") == std::to_string(count_descendants(element, "error")));
}

// A JUnit document: well-formed, valid against docs/junit.xsd, and its
// tests/failures/errors attributes counting its elements. Returns the root.
XmlElement parse_junit(const std::string& doc) {
    const XmlDoc parsed = read_xml(doc);
    INFO(doc);
    REQUIRE_MESSAGE(parsed != nullptr, xml_errors());
    xmlSchemaValidCtxt* validation = xmlSchemaNewValidCtxt(junit_schema());
    REQUIRE(validation != nullptr);
    xml_errors().clear();
    xmlSchemaSetValidStructuredErrors(validation, collect_xml_error, nullptr);
    const int invalid = xmlSchemaValidateDoc(validation, parsed.get());
    xmlSchemaFreeValidCtxt(validation);
    CHECK_MESSAGE(invalid == 0, "not valid against docs/junit.xsd: " << xml_errors());
    XmlElement root = copy_element(xmlDocGetRootElement(parsed.get()));
    REQUIRE(root.name == "testsuites");
    check_counts(root);
    for (const XmlElement* suite : root.all("testsuite"))
        check_counts(*suite);
    return root;
}

// Nothing but printable text and newlines (no terminal escapes, no raw controls).
bool terminal_safe(std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\n') || u == 0x7f;
    });
}

// ---------------------------------------------------------------- sample reports

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000;

const std::regex kTimeFormat(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");

// COMMAND (sh, pid 1233, clean) runs ./server (pid 1234), which leaks two
// sockets: fd 5 never closed (still in CLOSE_WAIT at the end), fd 7 closed
// by its peer process but still referenced, until the server exited.
RunReport clean_report() {
    RunReport report;
    report.command = {"sh", "-c", "./server --port 8080"};
    report.start_unix_ns = kSample - 60 * static_cast<std::int64_t>(kSecond);
    report.end_unix_ns = kSample + 30 * static_cast<std::int64_t>(kSecond) + 250 * static_cast<std::int64_t>(kMs);
    report.threshold = std::chrono::seconds(5);
    report.exit_status = 0;
    report.command_exit_code = 0;
    report.clock = sample_clock();
    report.hostname = "ci-runner-7";

    // pid, ppid, comm, cmdline, wait status, start and exit (CLOCK_MONOTONIC).
    const TracedProcess sh{1233, 1200, make_comm("sh"), "sh -c ./server --port 8080", 0, kMono - 60 * kSecond,
                           kMono + 30 * kSecond};
    const TracedProcess server{1234, 1233, make_comm("server"), "./server --port 8080", 0, kMono - 59 * kSecond,
                               kMono + 4 * kSecond + 200 * kMs};
    report.processes = {sh, server};

    report.transitions[{kTcpEstablished, kTcpCloseWait}] = 600;
    report.transitions[{kTcpCloseWait, kTcpLastAck}] = 598;
    report.transitions[{kTcpSynRecv, kTcpEstablished}] = 6;
    report.kernel[TL_CNT_TRANSITIONS] = 1300;
    report.kernel[TL_CNT_SENT] = 1204;
    return report;
}

RunReport leaking_report() {
    RunReport report = clean_report();
    report.exit_status = 3;

    Leak never = server_leak(4101, 50312, 5, "./server --port 8080", Verdict::NeverClosed);
    never.owner_pid = 1234;
    never.owner_comm = make_comm("server");
    never.entered_mono_ns = kMono - 6 * kSecond - 100 * kMs;
    never.reported_mono_ns = kMono;
    never.rx_queue = 0;

    Leak closed = server_leak(4102, 50314, 7, "./server --port 8080", Verdict::ClosedStillReferenced);
    closed.owner_pid = 1233;
    closed.owner_comm = make_comm("sh");
    closed.closed_by = ClosedBy{1233, make_comm("sh"), 4, ReleaseVia::Close};
    closed.entered_mono_ns = kMono - 5 * kSecond;
    closed.reported_mono_ns = kMono;
    closed.rx_queue = 12;

    LeakResolved resolved;
    resolved.leak = closed;
    resolved.how = ResolvedHow::Exit;
    resolved.by_pid = 1234;
    resolved.by_comm = make_comm("server");
    resolved.resolved_mono_ns = kMono + 4 * kSecond + 200 * kMs;
    resolved.in_state_ns = 9 * kSecond + 200 * kMs;

    report.leaks = {never, closed};
    report.resolved = {resolved};
    return report;
}

// A rendering with tcpleak's version replaced by "@VERSION@": the golden
// files do not change with each release.
std::string without_version(std::string text) {
    const std::string version = TCPLEAK_VERSION;
    for (std::size_t at = 0; (at = text.find(version, at)) != std::string::npos;)
        text.replace(at, version.size(), "@VERSION@");
    return text;
}

// Writes the renderings to $TCPLEAK_REPORT_SAMPLES/<name>.{txt,json,xml}
// when set: for checking them with other tools (xmllint, jsonschema).
void save_samples(const RunReport& report, const std::string& name) {
    const char* dir = std::getenv("TCPLEAK_REPORT_SAMPLES");
    if (!dir)
        return;
    std::string text;
    append_run_report_text(text, report);
    std::ofstream(std::string(dir) + "/" + name + ".txt") << text;
    std::ofstream(std::string(dir) + "/" + name + ".json") << render_json_report(report);
    std::ofstream(std::string(dir) + "/" + name + ".xml") << render_junit(report);
}

} // namespace

// ---------------------------------------------------------------- JSON

TEST_CASE("run report: JSON document of a run with leaks") {
    const RunReport report = leaking_report();
    save_samples(report, "leaking");
    const std::string doc = render_json_report(report);
    const nlohmann::json j = nlohmann::json::parse(doc);
    CHECK(j["version"] == TCPLEAK_VERSION);
    CHECK(j["processes"][1]["leaks"] == j["leaks"]); // the same objects, twice
    check_golden("run_report_leaks.json", without_version(doc));
}

TEST_CASE("run report: a leak of a process that was not traced gets its own entry") {
    RunReport report = leaking_report();
    report.leaks[0].pid = 4321;
    report.leaks[0].comm = make_comm("stray");
    report.leaks[0].cmdline = "/usr/bin/stray";
    save_samples(report, "stray");

    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    REQUIRE(j["processes"].size() == 3);
    const auto& stray = j["processes"][2];
    CHECK(stray["pid"] == 4321);
    CHECK(stray["comm"] == "stray");
    CHECK(stray["cmdline"] == "/usr/bin/stray");
    CHECK(stray["ppid"].is_null());
    CHECK(stray["traced"] == false);
    CHECK(stray["exit_status"].is_null());
    REQUIRE(stray["leaks"].size() == 1);
    CHECK(stray["leaks"][0]["sock"] == 4101);
    CHECK(j["processes"][1]["leaks"].size() == 1);
    CHECK(j["leaks_found"] == 2);

    const XmlElement root = parse_junit(render_junit(report));
    CHECK(root.attribute("tests") == "3");
    CHECK(root.attribute("failures") == "2");
    const auto cases = root.all("testsuite")[0]->all("testcase");
    REQUIRE(cases.size() == 3);
    CHECK(cases[2]->attribute("name") == "pid 4321 stray: /usr/bin/stray [fd 5 127.0.0.1:8080 -> 127.0.0.1:50312]");

    std::string text;
    append_run_report_text(text, report);
    CHECK(text.find("by 2 processes") != std::string::npos);
    CHECK(text.find("pid 4321 stray  /usr/bin/stray  (not among the traced processes)\n") != std::string::npos);
    CHECK(text.find("tcpleak: traced 2 processes,") != std::string::npos); // only the traced ones
}

TEST_CASE("run report: a resolved leak missing from the leak list is still reported") {
    RunReport report = leaking_report();
    report.leaks.pop_back(); // only in report.resolved
    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    CHECK(j["leaks_found"] == 2);
    REQUIRE(j["leaks"].size() == 2);
    CHECK(j["leaks"][1]["sock"] == 4102);
    CHECK(j["leaks"][1]["resolved"]["how"] == "exit");
}

TEST_CASE("run report: JSON and JUnit of a clean run") {
    RunReport report = clean_report();
    save_samples(report, "clean");
    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    CHECK(j["leaks_found"] == 0);
    CHECK(j["leaks"].empty());
    CHECK(j["processes"].size() == 2);
    CHECK(j["exit_status"] == 0);

    const std::string xml = render_junit(report);
    const XmlElement root = parse_junit(xml);
    CHECK(root.attribute("tests") == "2");
    CHECK(root.attribute("failures") == "0");
    CHECK(count(xml, "<failure") == 0);
}

// ---------------------------------------------------------------- JUnit

TEST_CASE("run report: junit of a run with leaks") {
    const RunReport report = leaking_report();
    const std::string xml = render_junit(report);
    const XmlElement root = parse_junit(xml); // well-formed, valid against docs/junit.xsd, counts add up
    // sh passed; server left two sockets: two failing test cases, one <failure> each.
    CHECK(root.attribute("tests") == "3");
    CHECK(root.attribute("failures") == "2");
    CHECK(count(xml, "<failure") == 2);
    check_golden("run_report_leaks.junit.xml", without_version(xml));
}

TEST_CASE("run report: junit without a hostname uses the local one") {
    RunReport report = clean_report();
    report.hostname.clear();
    const XmlElement root = parse_junit(render_junit(report));
    const auto hostname = root.all("testsuite")[0]->attribute("hostname");
    REQUIRE(hostname);
    CHECK(!hostname->empty());
}

TEST_CASE("run report: xml escaping keeps hostile names well-formed") {
    const auto escaped = [](std::string_view text, bool attribute) {
        std::string out;
        append_xml_escaped(out, text, attribute);
        return out;
    };
    CHECK(escaped("a<b>&\"c'", true) == "a&lt;b&gt;&amp;&quot;c&apos;");
    CHECK(escaped("tab\tnl\ncr\r", true) == "tab&#9;nl&#10;cr&#13;");
    CHECK(escaped("tab\tnl\ncr\r", false) == "tab\tnl\ncr&#13;");
    CHECK(escaped("]]>", false) == "]]&gt;");
    // Control bytes, DEL, ill-formed UTF-8, C1 controls and the noncharacters
    // XML forbids become visible escapes; good UTF-8 passes.
    const std::string out =
        escaped("\x01\x1b\x7f|\xff|\xc0\xaf|\xc2\x85|\xef\xbf\xbe|\xef\xbf\xbf|\xed\xa0\x80|é€😀", false);
    CHECK(out == "\\x01\\x1b\\x7f|\\xff|\\xc0\\xaf|\\xc2\\x85|\\xef\\xbf\\xbe|\\xef\\xbf\\xbf|\\xed\\xa0\\x80|é€😀");
    CHECK(well_formed("<a>" + out + "</a>"));

    // Every single byte, alone and after a lead byte, in content and attributes.
    for (int b = 0; b < 256; ++b) {
        for (const std::string prefix : {"", "\xe2", "\xf0\x9f"}) {
            const std::string bytes = prefix + std::string(1, static_cast<char>(b)) + "x";
            std::string doc = "<a v=\"";
            append_xml_escaped(doc, bytes, true);
            doc.append("\">");
            append_xml_escaped(doc, bytes, false);
            doc.append("</a>");
            INFO("byte " << b);
            CHECK(well_formed(doc));
        }
    }
}

TEST_CASE("run report: the tests' XML reader (libxml2) rejects what is not well-formed") {
    CHECK(well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\" y='2'><b/>t&amp;&#x41;<!-- c --></a>\n"));
    for (const char* doc : {"<a><b></a>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&foo;</a>", "<a>a & b</a>",
                            "<a>\x01</a>", "<a>\xff</a>", "<a>\xef\xbf\xbe</a>", "<a>]]></a>", "<a x=\"<\"/>",
                            "<a>&#1;</a>", "<a/><b/>"}) {
        INFO(doc);
        CHECK(!well_formed(doc));
    }
}

TEST_CASE("run report: hostile comm and cmdline stay well-formed in junit, JSON and text") {
    RunReport report = leaking_report();
    const std::string hostile_comm = "<>&\"'\x01\xff]]>\x1b[31m";
    const std::string hostile_cmdline =
        "./srv <script>&amp; \"q\" 'a' \x01\x02\x1b]0;title\x07 \xff\xfe \xef\xbf\xbe ]]> \xc2\x9b \r\n\t end \\x01";
    report.processes[1].comm = make_comm(hostile_comm);
    report.processes[1].cmdline = hostile_cmdline;
    for (Leak& leak : report.leaks) {
        leak.comm = make_comm(hostile_comm);
        leak.cmdline = hostile_cmdline;
        for (Holder& h : leak.holders)
            h.comm = make_comm(hostile_comm);
    }
    report.resolved[0].by_comm = make_comm(hostile_comm);
    report.command = {"sh", "-c", hostile_cmdline};
    report.leaks.push_back(report.leaks[0]);
    report.leaks.back().cookie = 4103;
    report.leaks.back().pid = 9999; // not traced: comm/cmdline from the leak
    save_samples(report, "hostile");

    const std::string xml = render_junit(report);
    const XmlElement root = parse_junit(xml);
    // sh passes; server leaked two sockets, the untraced 9999 one.
    CHECK(root.attribute("tests") == "4");
    CHECK(root.attribute("failures") == "3");
    CHECK(count(xml, "<failure") == 3);
    const auto cases = root.all("testsuite")[0]->all("testcase");
    REQUIRE(cases.size() == 4);
    const std::string name = *cases[1]->attribute("name");
    // append_printable, then XML-decoded: the visible escapes survive.
    CHECK(name.rfind("pid 1234 <>&\"'\\x01\\xff]]>\\x1b[31m: ./srv <script>&amp; \"q\" 'a' \\x01\\x02\\x1b]0;title\\x07",
                     0) == 0);
    CHECK(name.find("\\\\x01") != std::string::npos); // a literal backslash is doubled
    CHECK(terminal_safe(name));
    for (const XmlElement* failure : cases[1]->all("failure")) {
        CHECK(terminal_safe(*failure->attribute("message")));
        std::string body = failure->text;
        CHECK(terminal_safe(body));
    }

    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    CHECK(j["leaks_found"] == 3);
    CHECK(j["processes"][1]["comm"].get<std::string>().rfind("<>&\"'\x01", 0) == 0);
    CHECK(j["processes"][1]["cmdline"].get<std::string>().rfind("./srv <script>&amp; \"q\" 'a' \x01\x02\x1b", 0) == 0);
    CHECK(j["command"][2].get<std::string>().rfind("./srv", 0) == 0);
    CHECK(j["leaks"][1]["closed_via"] == "close");

    std::string text;
    append_run_report_text(text, report);
    CHECK(terminal_safe(text));
    CHECK(text.find("pid 1234 <>&\"'\\x01\\xff]]>\\x1b[31m  ./srv") != std::string::npos);
}

TEST_CASE("run report: IPv6 leaks") {
    RunReport report = leaking_report();
    SocketAddress& a = report.leaks[0].address;
    a.family = kFamilyIpv6;
    a.saddr = {};
    a.saddr[15] = 1;
    a.daddr = {0x20, 0x01, 0x0d, 0xb8};
    a.daddr[15] = 7;
    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    CHECK(j["leaks"][0]["family"] == "ipv6");
    CHECK(j["leaks"][0]["saddr"] == "::1");
    CHECK(j["leaks"][0]["daddr"] == "2001:db8::7");
    std::string text;
    append_run_report_text(text, report);
    CHECK(text.find("fd 5 [::1]:8080 -> [2001:db8::7]:50312 in CLOSE_WAIT") != std::string::npos);
    parse_junit(render_junit(report));
}

// ---------------------------------------------------------------- text

TEST_CASE("run report: text of a run with leaks") {
    RunReport report = leaking_report();
    report.processes.push_back({1235, 1233, make_comm("worker"), "./worker", std::nullopt, {}, {}});
    std::string text;
    append_run_report_text(text, report);
    check_golden("run_report_leaks.txt", text);
}

TEST_CASE("run report: text of a never-closed socket another process also holds") {
    RunReport report = leaking_report();
    report.leaks.resize(1);
    report.resolved.clear();
    report.leaks[0].holders.push_back({1236, make_comm("child"), 3});
    report.leaks[0].since_start = true;
    report.kernel[TL_CNT_LOST] = 1;
    report.tracking.complete = false;
    report.tracking.incomplete_reasons = {"events were lost"};
    std::string text;
    append_run_report_text(text, report);
    CHECK(text.find("tcpleak: 1 socket leaked in CLOSE_WAIT by 1 process") == 0);
    CHECK(text.find(" in CLOSE_WAIT for at least 6.10s: never closed; held by 1234 server fd 5, 1236 child fd 3\n") !=
          std::string::npos);
    CHECK(text.find(", 1 lost event;") != std::string::npos);
    CHECK(text.find("tcpleak: warning: tracking incomplete: events were lost\n") != std::string::npos);
}

TEST_CASE("run report: text of a clean run") {
    RunReport report = clean_report();
    report.processes.push_back({1235, 1233, make_comm("worker"), "./worker", std::nullopt, {}, {}});
    std::string text;
    append_run_report_text(text, report);
    CHECK(text == "tcpleak: no socket left in CLOSE_WAIT past 5s by 3 traced processes \u2014 "
                  "sh -c './server --port 8080' exited with 0\n");

    report.kernel[TL_CNT_LOST] = 7; // reconciled in time: complete, nothing to warn about
    text.clear();
    append_run_report_text(text, report);
    CHECK(text.find("warning") == std::string::npos);
    report.tracking.complete = false;
    report.tracking.incomplete_reasons = {"events were lost"};
    text.clear();
    append_run_report_text(text, report);
    CHECK(text.find("\ntcpleak: warning: tracking incomplete: events were lost\n"
                    "tcpleak: exit status 4 unless a leak was found: tcpleak could not watch everything\n") !=
          std::string::npos);
}

TEST_CASE("run report: text when COMMAND was killed by a signal") {
    RunReport report = clean_report();
    report.command = {"./soak"};
    report.command_exit_code.reset();
    report.command_signal = 9;
    report.processes.resize(1);
    std::string text;
    append_run_report_text(text, report);
    CHECK(text == "tcpleak: no socket left in CLOSE_WAIT past 5s by 1 traced process \u2014 "
                  "./soak killed by signal 9 (SIGKILL)\n");

    const nlohmann::json j = nlohmann::json::parse(render_json_report(report));
    CHECK(j["command_exit_code"].is_null());
    CHECK(j["command_signal"] == 9);

    report.processes[0].exit_status = SIGSEGV; // wait status: killed by SIGSEGV
    const XmlElement root = parse_junit(render_junit(report));
    const auto* testcase = root.all("testsuite")[0]->all("testcase")[0];
    CHECK(testcase->all("system-out")[0]->text.find(": killed by signal 11 (SIGSEGV)\n") != std::string::npos);
    const nlohmann::json j2 = nlohmann::json::parse(render_json_report(report));
    CHECK(j2["processes"][0]["exit_signal"] == 11);
    CHECK(j2["processes"][0]["exit_code"].is_null());
}

TEST_CASE("run report: --state FIN_WAIT2 says stuck in FIN_WAIT2 in the text and JUnit, never CLOSE_WAIT") {
    RunReport report = leaking_report();
    report.states = 1U << kTcpFinWait2;
    for (Leak& leak : report.leaks)
        leak.state = kTcpFinWait2;
    for (LeakResolved& resolved : report.resolved)
        resolved.leak.state = kTcpFinWait2;
    std::string text;
    append_run_report_text(text, report);
    CHECK(text.find("2 sockets stuck in FIN_WAIT2 by 1 process") != std::string::npos);
    const std::string xml = render_junit(report);
    CHECK(xml.find("FIN_WAIT2:") != std::string::npos);
    CHECK(xml.find("sockets stuck in FIN_WAIT2 past") != std::string::npos);
    CHECK(text.find("CLOSE_WAIT") == std::string::npos);
    CHECK(xml.find("CLOSE_WAIT") == std::string::npos);

    RunReport clean = clean_report();
    clean.states = (1U << kTcpFinWait1) | (1U << kTcpLastAck);
    std::string clean_text;
    append_run_report_text(clean_text, clean);
    CHECK(clean_text.find("no socket left in FIN_WAIT1 or LAST_ACK past") != std::string::npos);
}
