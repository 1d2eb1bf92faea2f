#include "tcpleak/core/scan_schedule.hpp"
#include "support/nanoseconds.hpp"

#include <doctest/doctest.h>

using namespace tcpleak;
using namespace tcpleak::test;

TEST_CASE("scan schedule: the first scan at once, then a minimum gap") {
    ScanSchedule schedule;
    CHECK(schedule.should_scan(10 * kSec, false)); // the first one: nothing to compare with
    schedule.ran(10 * kSec, 10 * kSec + kMs);
    CHECK_FALSE(schedule.should_scan(10 * kSec + 200 * kMs, true));
    CHECK(schedule.should_scan(10 * kSec + 251 * kMs, true));
    CHECK_FALSE(schedule.should_scan(10 * kSec + 251 * kMs, false)); // nothing due
}

TEST_CASE("scan schedule: costly scans take at most a fifteenth of the time") {
    ScanSchedule schedule;
    schedule.ran(0, 70 * kMs); // a 70 ms scan (200,000 descriptors)
    CHECK(schedule.earliest(0) == 70 * kMs + 14 * 70 * kMs);
    CHECK_FALSE(schedule.should_scan(1000 * kMs, true));
    CHECK(schedule.should_scan(1050 * kMs, true));
    // Ten leaks a second, for a minute: the scans' share of the time.
    std::uint64_t now = 1050 * kMs;
    for (int i = 0; i < 600; ++i, now += 100 * kMs)
        if (schedule.should_scan(now, true))
            schedule.ran(now, now + 70 * kMs);
    // A fifteenth of the time, give or take the scan in progress at either end.
    CHECK(schedule.busy_ns() <= (now + 70 * kMs) / 15 + 70 * kMs);
    CHECK(schedule.scans() > 40);
}

TEST_CASE("scan schedule: a periodic reconciliation when nothing is due") {
    ScanPolicy policy;
    policy.reconcile_every = std::chrono::seconds(10);
    ScanSchedule schedule(policy);
    schedule.ran(0, kMs);
    CHECK_FALSE(schedule.should_scan(9 * kSec, false));
    CHECK(schedule.should_scan(10 * kSec + kMs, false));
}

TEST_CASE("scan schedule: a reconciliation after lost events waits only for the minimum gap") {
    ScanSchedule schedule;
    schedule.ran(0, 2 * kSec); // a very costly scan: 28 s before the next one
    CHECK_FALSE(schedule.should_scan(3 * kSec, true));
    CHECK(schedule.should_scan(2 * kSec + 251 * kMs, true, true));
    CHECK_FALSE(schedule.should_scan(2 * kSec + 50 * kMs, true, true));
}
