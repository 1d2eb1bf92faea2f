#include "tcpleak/metrics/exposition_writer.hpp"
#include "tcpleak/metrics/names.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <string>

using namespace tcpleak::metrics;

TEST_CASE("metric and label names are validated") {
    CHECK(is_valid_metric_name("tcpleak_sockets"));
    CHECK(is_valid_metric_name("job:rate5m"));
    CHECK(is_valid_metric_name("_x9"));
    CHECK_FALSE(is_valid_metric_name(""));
    CHECK_FALSE(is_valid_metric_name("9lives"));
    CHECK_FALSE(is_valid_metric_name("tcp-leak"));
    CHECK_FALSE(is_valid_metric_name("tcpleak sockets"));
    CHECK(is_valid_label_name("comm"));
    CHECK(is_valid_label_name("_private"));
    CHECK_FALSE(is_valid_label_name("__name__"));
    CHECK_FALSE(is_valid_label_name("a:b"));
    CHECK_FALSE(is_valid_label_name("0"));
    CHECK_THROWS_AS(require_metric_name("bad name"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(require_label_name("x-y"), "invalid label name \"x-y\"", std::invalid_argument);
}

TEST_CASE("counter, gauge and untyped families") {
    std::string out;
    ExpositionWriter w(out);
    w.family("tcpleak_events_lost_total", MetricType::counter, "Events the ring buffer dropped.");
    w.sample({}, std::uint64_t{18446744073709551615u});
    w.family("tcpleak_tracking_incomplete", MetricType::gauge, "1 while some sockets are not tracked.");
    w.sample({}, false);
    w.family("tcpleak_build_info", MetricType::gauge, "Version of tcpleak and of the kernel.");
    w.sample({{"version", "0.1.0"}, {"kernel", "6.1.0-18-amd64"}}, 1);
    w.family("tcpleak_close_wait_oldest_seconds", MetricType::gauge, "Age of the oldest CLOSE_WAIT socket.");
    w.sample({{"comm", "java"}}, 12.25);
    w.sample({{"comm", "idle"}}, std::numeric_limits<double>::quiet_NaN());
    w.family("legacy", MetricType::untyped, "");
    w.sample({}, -3);
    CHECK(out == "# HELP tcpleak_events_lost_total Events the ring buffer dropped.\n"
                 "# TYPE tcpleak_events_lost_total counter\n"
                 "tcpleak_events_lost_total 18446744073709551615\n"
                 "# HELP tcpleak_tracking_incomplete 1 while some sockets are not tracked.\n"
                 "# TYPE tcpleak_tracking_incomplete gauge\n"
                 "tcpleak_tracking_incomplete 0\n"
                 "# HELP tcpleak_build_info Version of tcpleak and of the kernel.\n"
                 "# TYPE tcpleak_build_info gauge\n"
                 "tcpleak_build_info{version=\"0.1.0\",kernel=\"6.1.0-18-amd64\"} 1\n"
                 "# HELP tcpleak_close_wait_oldest_seconds Age of the oldest CLOSE_WAIT socket.\n"
                 "# TYPE tcpleak_close_wait_oldest_seconds gauge\n"
                 "tcpleak_close_wait_oldest_seconds{comm=\"java\"} 12.25\n"
                 "tcpleak_close_wait_oldest_seconds{comm=\"idle\"} NaN\n"
                 "# HELP legacy \n"
                 "# TYPE legacy untyped\n"
                 "legacy -3\n");
}

TEST_CASE("hostile label values cannot break out of their quotes or their line") {
    std::string out;
    ExpositionWriter w(out);
    w.family("tcpleak_leaks_total", MetricType::counter, "Leaks\nfound, by \\owner.");
    w.sample({{"comm", "x\"} 1\nfake_metric{a=\"b"}, {"pod", "p\xFF\r\xC2\x85"}}, 2);
    CHECK(out == "# HELP tcpleak_leaks_total Leaks\\nfound, by \\\\owner.\n"
                 "# TYPE tcpleak_leaks_total counter\n"
                 "tcpleak_leaks_total{comm=\"x\\\"} 1\\nfake_metric{a=\\\"b\","
                 "pod=\"p\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 2\n");
}

TEST_CASE("histogram series are cumulative and end with +Inf, _sum and _count") {
    Histogram h({0.5, 1, 60, 1e6});
    for (double v : {0.25, 0.5, 0.75, 30.0, 3600.0, 2e6})
        h.observe(v);
    std::string out;
    ExpositionWriter w(out);
    w.family("tcpleak_close_wait_duration_seconds", MetricType::histogram, "How long sockets stayed in CLOSE_WAIT.");
    w.histogram({}, h);
    w.family("tcpleak_scan_duration_seconds", MetricType::histogram, "Time one /proc scan took.");
    w.histogram({{"kind", "full"}}, Histogram({}));
    CHECK(out == "# HELP tcpleak_close_wait_duration_seconds How long sockets stayed in CLOSE_WAIT.\n"
                 "# TYPE tcpleak_close_wait_duration_seconds histogram\n"
                 "tcpleak_close_wait_duration_seconds_bucket{le=\"0.5\"} 2\n"
                 "tcpleak_close_wait_duration_seconds_bucket{le=\"1\"} 3\n"
                 "tcpleak_close_wait_duration_seconds_bucket{le=\"60\"} 4\n"
                 "tcpleak_close_wait_duration_seconds_bucket{le=\"1e+06\"} 5\n"
                 "tcpleak_close_wait_duration_seconds_bucket{le=\"+Inf\"} 6\n"
                 "tcpleak_close_wait_duration_seconds_sum 2003631.5\n"
                 "tcpleak_close_wait_duration_seconds_count 6\n"
                 "# HELP tcpleak_scan_duration_seconds Time one /proc scan took.\n"
                 "# TYPE tcpleak_scan_duration_seconds histogram\n"
                 "tcpleak_scan_duration_seconds_bucket{kind=\"full\",le=\"+Inf\"} 0\n"
                 "tcpleak_scan_duration_seconds_sum{kind=\"full\"} 0\n"
                 "tcpleak_scan_duration_seconds_count{kind=\"full\"} 0\n");
}

TEST_CASE("calls that do not fit the family are programming errors") {
    std::string out;
    ExpositionWriter w(out);
    CHECK_THROWS_AS(w.sample({}, 1), std::logic_error); // no family yet
    CHECK_THROWS_AS(w.family("bad-name", MetricType::gauge, ""), std::invalid_argument);
    w.family("g", MetricType::gauge, "");
    CHECK_THROWS_AS(w.histogram({}, Histogram({1})), std::logic_error);
    CHECK_THROWS_AS(w.sample({{"a", "1"}, {"a", "2"}}, 1), std::invalid_argument);
    CHECK_THROWS_AS(w.sample({{"__name__", "x"}}, 1), std::invalid_argument);
    CHECK_THROWS_AS(w.family("g", MetricType::gauge, ""), std::logic_error); // written twice
    w.family("h", MetricType::histogram, "");
    CHECK_THROWS_AS(w.sample({}, 1), std::logic_error);
    CHECK_THROWS_AS(w.histogram({{"le", "1"}}, Histogram({1})), std::invalid_argument);
}
