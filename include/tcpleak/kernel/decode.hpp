// Raw ring-buffer and iterator records (bpf/tcpleak.h) into the values of
// core/records.hpp. The layouts are checked against the C header by
// static_assert (decode.cpp), so a change on one side cannot go unnoticed.
#pragma once

#include "tcpleak/core/records.hpp"

#include <cstddef>
#include <optional>
#include <span>

namespace tcpleak {

enum class RecordKind : std::uint8_t { Transition = 1, FdRelease = 2, Proc = 3, Socket = 4, Accept = 5, TcpSocket = 6 };

// The kind byte of a raw record, or nullopt when it is empty.
std::optional<RecordKind> record_kind(std::span<const std::byte> raw);

// Decoders: false when raw is too short or of another kind.
bool decode(std::span<const std::byte> raw, Transition& out);
bool decode(std::span<const std::byte> raw, FdRelease& out);
bool decode(std::span<const std::byte> raw, ProcEvent& out);
bool decode(std::span<const std::byte> raw, SocketHolder& out);
bool decode(std::span<const std::byte> raw, Accept& out);
bool decode(std::span<const std::byte> raw, TcpSocket& out);

// Sizes of the raw records, for iterator reads.
std::size_t socket_record_size();
std::size_t tcp_socket_record_size();

} // namespace tcpleak
