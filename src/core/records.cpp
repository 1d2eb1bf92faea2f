#include "tcpleak/core/records.hpp"

#include <algorithm>
#include <cstring>

namespace tcpleak {

std::string_view comm_view(const Comm& comm) {
    const auto end = std::find(comm.begin(), comm.end(), '\0');
    return {comm.data(), static_cast<std::size_t>(end - comm.begin())};
}

Comm make_comm(std::string_view name) {
    Comm comm{};
    std::memcpy(comm.data(), name.data(), std::min(name.size(), comm.size()));
    return comm;
}

std::string_view owner_via_name(OwnerVia via) {
    switch (via) {
    case OwnerVia::None: return "none";
    case OwnerVia::Connect: return "connect";
    case OwnerVia::Listen: return "listen";
    case OwnerVia::Accept: return "accept";
    case OwnerVia::Listener: return "listener";
    case OwnerVia::FdTable: return "fd_table";
    }
    return "none";
}

std::string_view release_via_name(ReleaseVia via) {
    switch (via) {
    case ReleaseVia::Close: return "close";
    case ReleaseVia::CloseRange: return "close_range";
    case ReleaseVia::Dup2: return "dup2";
    case ReleaseVia::Dup3: return "dup3";
    case ReleaseVia::Exit: return "exit";
    case ReleaseVia::Exec: return "exec";
    }
    return "close";
}

} // namespace tcpleak
