// Raw records as the kernel sends them (bpf/tcpleak.h), for the decoder's
// tests and the hot-path benchmark (bench/hot_path.cpp).
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" {
#include "tcpleak.h"
}

namespace tcpleak::test {

// The bytes of a raw record, as the ring buffer or an iterator hands them over.
template <typename Raw>
std::span<const std::byte> bytes_of(const Raw& raw) {
    return {reinterpret_cast<const std::byte*>(&raw), sizeof(raw)};
}

// A record of kind, zero but for its kind byte.
template <typename Raw>
Raw blank(std::uint8_t kind) {
    Raw raw{};
    raw.kind = kind;
    return raw;
}

} // namespace tcpleak::test
