#include "tcpleak/core/deadline_queue.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace tcpleak;

TEST_CASE("deadline queue: in-order deadlines, earliest first, rescheduling and cancelling") {
    DeadlineQueue queue;
    CHECK(queue.next() == DeadlineQueue::kNever);
    queue.schedule(1, 100);
    queue.schedule(2, 200);
    queue.schedule(3, 300);
    CHECK(queue.next() == 100);
    CHECK(queue.due(250) == std::vector<std::uint64_t>{1, 2});
    queue.schedule(1, 400); // later: the old slot goes stale
    CHECK(queue.next() == 200);
    queue.cancel(2);
    CHECK(queue.next() == 300);
    CHECK(queue.due(1000) == std::vector<std::uint64_t>{3, 1});
    CHECK(queue.size() == 2);
    CHECK(queue.scheduled(1));
    CHECK_FALSE(queue.scheduled(2));
}

TEST_CASE("deadline queue: out-of-order deadlines merge with the in-order ones") {
    DeadlineQueue queue;
    queue.schedule(1, 500);
    queue.schedule(2, 100); // earlier than the FIFO's back: the ordered set
    queue.schedule(3, 700);
    queue.schedule(4, 600);
    CHECK(queue.next() == 100);
    CHECK(queue.due(650) == std::vector<std::uint64_t>{2, 1, 4});
    queue.cancel(2);
    CHECK(queue.next() == 500);
    queue.cancel(4);
    CHECK(queue.due(10'000) == std::vector<std::uint64_t>{1, 3});
}

TEST_CASE("deadline queue: stale slots are compacted, the live ones kept") {
    DeadlineQueue queue;
    queue.schedule(0, 1'000'000); // a long wait blocks the front
    for (std::uint64_t i = 1; i <= 100'000; ++i) {
        queue.schedule(i, 1'000'000 + i);
        queue.cancel(i);
    }
    CHECK(queue.size() == 1);
    CHECK(queue.slots() <= 2 * queue.size() + 1024 + 1);
    CHECK(queue.next() == 1'000'000);
}
