// Reads the BPF ring buffer. The kernel side batches wakeups, so records
// are also collected on every poll timeout, bounding latency by it.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <span>

struct ring_buffer; // libbpf

namespace tcpleak {

class RecordSink {
public:
    virtual ~RecordSink() = default;
    virtual void on_record(std::span<const std::byte> record) = 0;
};

// What a scan drains behind it: records already produced, consumed without
// waiting (a fake in the unit tests).
class EventSource {
public:
    virtual ~EventSource() = default;
    virtual std::size_t drain() = 0;
};

class RingReader : public EventSource {
public:
    RingReader(int ring_map_fd, RecordSink& sink);
    ~RingReader();
    RingReader(const RingReader&) = delete;
    RingReader& operator=(const RingReader&) = delete;

    // Waits up to timeout for a wakeup (not at all while records are known
    // to wait), then consumes what is queued, at most a budget of records
    // (65,536), so that a reader outpaced by its producers still returns.
    // Returns the number of records handled. Rethrows what the sink threw.
    std::size_t poll(std::chrono::milliseconds timeout);
    // Consumes what is queued without waiting, at most the budget.
    std::size_t drain() override;
    // Consumes until the ring buffer is empty: once producers have stopped
    // (after detaching), so that it ends.
    std::size_t drain_all();
    bool more() const { return more_; } // the budget ran out with records left

private:
    static int on_sample(void* context, void* data, std::size_t size);
    std::size_t finish(int consumed);

    RecordSink& sink_;
    ring_buffer* ring_ = nullptr;
    std::exception_ptr failure_;
    std::size_t handled_ = 0; // records handled in the current call
    bool more_ = false;
};

} // namespace tcpleak
