#include "tcpleak/core/coverage.hpp"
#include "support/nanoseconds.hpp"

#include <doctest/doctest.h>

using namespace tcpleak;
using namespace tcpleak::test;

TEST_CASE("coverage: a short loss reconciled within the threshold is covered") {
    Coverage coverage(std::chrono::seconds(5));
    CHECK_FALSE(coverage.reconcile_needed());
    coverage.on_loss(10 * kSec, 10 * kSec + 100 * kMs, 40);
    CHECK(coverage.reconcile_needed());
    const Reconciliation r = coverage.on_reconciled(10 * kSec + 200 * kMs);
    CHECK(r.covered);
    REQUIRE(r.gaps.size() == 1);
    CHECK(r.gaps[0].events == 40);
    CHECK_FALSE(coverage.reconcile_needed());
    CHECK(coverage.complete());
    CHECK(coverage.events_lost() == 40);
}

TEST_CASE("coverage: a loss longer than the threshold leaves tracking incomplete") {
    Coverage coverage(std::chrono::seconds(1));
    // Stopped for 5 s: nothing read, then the loss noticed at once.
    coverage.on_loss(10 * kSec, 15 * kSec, 676'400);
    const Reconciliation r = coverage.on_reconciled(15 * kSec + 50 * kMs);
    CHECK_FALSE(r.covered);
    CHECK_FALSE(coverage.complete());
    REQUIRE(coverage.incomplete_reasons().size() == 1);
    CHECK(coverage.longest_uncovered_ns() == 5 * kSec + 50 * kMs);
    // Incomplete for good; a second long loss gives no second copy of the reason.
    coverage.on_loss(20 * kSec, 30 * kSec, 1);
    coverage.on_reconciled(30 * kSec);
    CHECK(coverage.incomplete_reasons().size() == 1);
    CHECK(coverage.gaps() == 2);
}

TEST_CASE("coverage: losses noticed back to back widen one gap") {
    Coverage coverage(std::chrono::seconds(5));
    coverage.on_loss(1 * kSec, 1 * kSec + 100 * kMs, 10);
    coverage.on_loss(1 * kSec + 100 * kMs, 1 * kSec + 200 * kMs, 5);
    coverage.on_loss(1 * kSec + 200 * kMs, 1 * kSec + 200 * kMs, 0); // nothing lost: ignored
    const Reconciliation r = coverage.on_reconciled(2 * kSec);
    REQUIRE(r.gaps.size() == 1);
    CHECK(r.gaps[0].start_ns == 1 * kSec);
    CHECK(r.gaps[0].events == 15);
    CHECK(coverage.gaps() == 1);
}

TEST_CASE("coverage: a bound the kernel side hit is incomplete at once, whatever the scans") {
    Coverage coverage(std::chrono::seconds(5));
    coverage.on_unreconcilable("a map was full");
    coverage.on_unreconcilable("a map was full");
    CHECK_FALSE(coverage.complete());
    CHECK(coverage.incomplete_reasons().size() == 1);
    CHECK_FALSE(coverage.reconcile_needed());
}
