#include "tcpleak/kernel/ring_reader.hpp"

#include "tcpleak/sys/errors.hpp"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tcpleak {

namespace {
// At most this many records per call. Under a load that outpaces the reader
// (a full ring buffer catching up while producers keep going) libbpf would
// go on consuming until the ring is empty, which may be never: the event
// loop must still get its turns (lost events noticed, scans, signals,
// --duration). A callback's negative return stops libbpf after that record.
constexpr std::size_t kRecordsPerCall = 65536;
constexpr int kBudgetSpent = -EAGAIN;
} // namespace

RingReader::RingReader(int ring_map_fd, RecordSink& sink) : sink_(sink) {
    ring_ = ring_buffer__new(ring_map_fd, &RingReader::on_sample, this, nullptr);
    if (!ring_)
        throw UserError(std::string("cannot open the BPF ring buffer: ") + std::strerror(errno));
}

RingReader::~RingReader() { ring_buffer__free(ring_); }

// A C callback: nothing may propagate through libbpf.
int RingReader::on_sample(void* context, void* data, std::size_t size) {
    auto* self = static_cast<RingReader*>(context);
    try {
        self->sink_.on_record({static_cast<const std::byte*>(data), size});
        if (++self->handled_ < kRecordsPerCall)
            return 0;
        self->more_ = true;
        return kBudgetSpent;
    } catch (...) {
        self->failure_ = std::current_exception();
        return -ECANCELED;
    }
}

std::size_t RingReader::finish(int consumed) {
    if (failure_) {
        auto failure = failure_;
        failure_ = nullptr;
        std::rethrow_exception(failure);
    }
    if (consumed < 0 && consumed != -EINTR && consumed != kBudgetSpent)
        throw UserError(std::string("reading the BPF ring buffer failed: ") + std::strerror(-consumed));
    return handled_;
}

std::size_t RingReader::poll(std::chrono::milliseconds timeout) {
    if (more_) // records are waiting: no point in sleeping
        return drain();
    handled_ = 0;
    const int woken = ring_buffer__poll(ring_, static_cast<int>(timeout.count()));
    if (more_)
        return finish(woken);
    const std::size_t got = finish(woken);
    return got + drain();
}

std::size_t RingReader::drain() {
    handled_ = 0;
    more_ = false;
    return finish(ring_buffer__consume(ring_));
}

std::size_t RingReader::drain_all() {
    std::size_t total = drain();
    while (more_)
        total += drain();
    return total;
}

} // namespace tcpleak
