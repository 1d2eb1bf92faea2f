#include "tcpleak/kernel/ring_reader.hpp"

#include "tcpleak/sys/errors.hpp"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tcpleak {

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
        return 0;
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
    if (consumed < 0 && consumed != -EINTR)
        throw UserError(std::string("reading the BPF ring buffer failed: ") + std::strerror(-consumed));
    return consumed > 0 ? static_cast<std::size_t>(consumed) : 0;
}

std::size_t RingReader::poll(std::chrono::milliseconds timeout) {
    const std::size_t woken = finish(ring_buffer__poll(ring_, static_cast<int>(timeout.count())));
    return woken + drain();
}

std::size_t RingReader::drain() { return finish(ring_buffer__consume(ring_)); }

} // namespace tcpleak
