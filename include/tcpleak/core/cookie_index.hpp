// A flat hash table from a 64-bit key (a socket cookie, or a hash of one)
// to a 32-bit value (an index into a snapshot): what the census and the peer
// index build once per snapshot of 100,000 sockets and more.
//
// Why not std::unordered_map: one allocation per entry and a pointer chase per
// look-up; a snapshot's table is built in one go and thrown away, so open
// addressing in one array (linear probing, at most half full) is several
// times faster and a fifth of the memory. Key 0 marks an empty slot: the
// kernel never gives a socket cookie 0, and callers that hash map a 0 hash to
// another value (remix_nonzero).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpleak {

class CookieIndex {
public:
    static constexpr std::uint32_t kNone = 0xffffffffU;

    explicit CookieIndex(std::size_t expected = 0) { reserve(expected); }

    // Room for `expected` keys without growing.
    void reserve(std::size_t expected) {
        const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(16, expected * 2));
        if (wanted > slots_.size())
            rehash(wanted);
    }

    // The value stored for key, or kNone. Key 0 is never stored.
    std::uint32_t find(std::uint64_t key) const {
        if (key == 0)
            return kNone;
        for (std::size_t i = home(key);; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.key == key)
                return slot.value;
            if (slot.key == 0)
                return kNone;
        }
    }
    bool contains(std::uint64_t key) const { return find(key) != kNone; }

    // Inserts key -> value unless key is there already. Returns the slot's
    // value (the new one, or the one already stored: the caller may update it
    // through the pointer, valid until the next insert) and whether it
    // inserted. Key 0 is refused: {nullptr, false}.
    struct Inserted {
        std::uint32_t* value;
        bool inserted;
    };
    Inserted insert(std::uint64_t key, std::uint32_t value) {
        if (key == 0)
            return {nullptr, false};
        if ((size_ + 1) * 2 > slots_.size())
            rehash(slots_.size() * 2);
        for (std::size_t i = home(key);; i = (i + 1) & mask_) {
            Slot& slot = slots_[i];
            if (slot.key == key)
                return {&slot.value, false};
            if (slot.key == 0) {
                slot = {key, value};
                ++size_;
                return {&slot.value, true};
            }
        }
    }

    std::size_t size() const { return size_; }
    std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

    // A 64-bit mix (the finaliser of MurmurHash3), never 0: for keys built
    // from several fields, and to spread cookies, which are sequential.
    static std::uint64_t remix_nonzero(std::uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return x == 0 ? 1 : x;
    }

private:
    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t value = kNone;
    };

    std::size_t home(std::uint64_t key) const { return static_cast<std::size_t>(remix_nonzero(key)) & mask_; }

    void rehash(std::size_t slot_count) {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(slot_count, Slot{});
        mask_ = slot_count - 1;
        size_ = 0;
        for (const Slot& slot : old)
            if (slot.key != 0)
                insert(slot.key, slot.value);
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

} // namespace tcpleak
