#include "tcpleak/metrics/series_store.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace tcpleak::metrics;

namespace {

std::string exposition(const SeriesStore& store) {
    std::string out;
    ExpositionWriter w(out);
    store.write(w);
    return out;
}

SeriesStore leaks_total(std::size_t max_series) {
    return SeriesStore("tcpleak_leaks_total", MetricType::counter, "Leaks found.", {"comm", "verdict"},
                       {.max_series = max_series, .max_label_value_bytes = 16});
}

} // namespace

TEST_CASE("series are written sorted by label values, whatever the update order") {
    SeriesStore store = leaks_total(10);
    store.add({"nginx", "leaked"});
    store.add({"java", "suspect"}, 2);
    store.add({"java", "leaked"});
    store.add({"nginx", "leaked"});
    CHECK(exposition(store) == "# HELP tcpleak_leaks_total Leaks found.\n"
                               "# TYPE tcpleak_leaks_total counter\n"
                               "tcpleak_leaks_total{comm=\"java\",verdict=\"leaked\"} 1\n"
                               "tcpleak_leaks_total{comm=\"java\",verdict=\"suspect\"} 2\n"
                               "tcpleak_leaks_total{comm=\"nginx\",verdict=\"leaked\"} 2\n");
}

TEST_CASE("past max_series, new label sets fold into one overflow series, counted") {
    SeriesStore store = leaks_total(2);
    store.add({"a", "leaked"});
    store.add({"b", "leaked"});
    for (int i = 0; i < 1000; ++i)
        store.add({"attacker-" + std::to_string(i), "leaked"}); // temporaries live until the call ends
    store.add({"a", "leaked"}); // kept series still count
    CHECK(store.size() == 3);
    CHECK(store.overflowed_updates() == 1000);
    CHECK(store.value({"a", "leaked"}) == 2);
    CHECK(store.value({"attacker-7", "leaked"}) == 1000); // would fold too
    CHECK(exposition(store) == "# HELP tcpleak_leaks_total Leaks found.\n"
                               "# TYPE tcpleak_leaks_total counter\n"
                               "tcpleak_leaks_total{comm=\"__other__\",verdict=\"__other__\"} 1000\n"
                               "tcpleak_leaks_total{comm=\"a\",verdict=\"leaked\"} 2\n"
                               "tcpleak_leaks_total{comm=\"b\",verdict=\"leaked\"} 1\n");
}

TEST_CASE("a label set equal to the overflow one merges, never duplicates") {
    SeriesStore store = leaks_total(1);
    store.add({"__other__", "__other__"}, 5); // a regular series while there is room
    store.add({"x", "leaked"});               // still room: the overflow key is not counted
    store.add({"y", "leaked"});               // full: folded
    CHECK(store.size() == 2);
    CHECK(store.value({"__other__", "__other__"}) == 6);
    CHECK(store.overflowed_updates() == 1);
}

TEST_CASE("long label values are cut at a UTF-8 boundary") {
    SeriesStore store = leaks_total(10);
    store.add({"0123456789abcdef-and-more", "leaked"});
    store.add({"0123456789abcdef-other-tail", "leaked"}); // same first 16 bytes: same series
    store.add({"0123456789abcd\xE2\x82\xAC", "leaked"});  // the euro sign straddles byte 16
    CHECK(store.size() == 2);
    CHECK(store.value({"0123456789abcdef", "leaked"}) == 2);
    CHECK(store.value({"0123456789abcd", "leaked"}) == 1);
}

TEST_CASE("gauges: clear and rebuild, set_max keeps the largest") {
    SeriesStore oldest("tcpleak_close_wait_oldest_seconds", MetricType::gauge, "Oldest CLOSE_WAIT socket.",
                       {"comm"}, {.max_series = 1});
    oldest.set_max({"java"}, 30);
    oldest.set_max({"java"}, 10);
    oldest.set_max({"go"}, -1); // a new series starts at its first value, not 0
    oldest.set_max({"rust"}, 7);
    CHECK(oldest.value({"java"}) == 30);
    CHECK(oldest.value({"__other__"}) == 7);
    CHECK(exposition(oldest) == "# HELP tcpleak_close_wait_oldest_seconds Oldest CLOSE_WAIT socket.\n"
                                "# TYPE tcpleak_close_wait_oldest_seconds gauge\n"
                                "tcpleak_close_wait_oldest_seconds{comm=\"__other__\"} 7\n"
                                "tcpleak_close_wait_oldest_seconds{comm=\"java\"} 30\n");
    oldest.clear();
    CHECK(oldest.size() == 0);
    CHECK(oldest.overflowed_updates() == 2); // a running count: kept across clear()
    oldest.set_max({"go"}, 1);
    CHECK(oldest.value({"go"}) == 1);
}

TEST_CASE("store misuse is a programming error") {
    CHECK_THROWS_AS(SeriesStore("x", MetricType::histogram, "", {}), std::invalid_argument);
    CHECK_THROWS_AS(SeriesStore("x", MetricType::gauge, "", {"a", "a"}), std::invalid_argument);
    CHECK_THROWS_AS(SeriesStore("x", MetricType::gauge, "", {"le-bad"}), std::invalid_argument);
    CHECK_THROWS_AS(SeriesStore("bad name", MetricType::gauge, "", {}), std::invalid_argument);
    SeriesStore counter = leaks_total(4);
    CHECK_THROWS_AS(counter.add({"only-one"}), std::invalid_argument);
    CHECK_THROWS_AS(counter.add({"a", "b"}, -1), std::invalid_argument);
    CHECK_THROWS_AS(counter.set_max({"a", "b"}, 1), std::logic_error);
    CHECK_THROWS_AS(counter.clear(), std::logic_error);
    CHECK(counter.size() == 0);
}

TEST_CASE("a family without labels has one series") {
    SeriesStore lost("tcpleak_events_lost_total", MetricType::counter, "Events dropped.", {});
    CHECK(exposition(lost) == "# HELP tcpleak_events_lost_total Events dropped.\n"
                              "# TYPE tcpleak_events_lost_total counter\n");
    lost.add({}, 3);
    lost.add({}, 4);
    CHECK(exposition(lost) == "# HELP tcpleak_events_lost_total Events dropped.\n"
                              "# TYPE tcpleak_events_lost_total counter\n"
                              "tcpleak_events_lost_total 7\n");
}
