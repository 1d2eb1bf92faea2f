#include "tcpleak/core/records.hpp"

#include "tcpleak/core/enum_names.hpp"

#include <algorithm>
#include <array>
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

namespace {

// Every value named.
constexpr std::array<EnumName<OwnerVia>, 6> kOwnerVias = {{
    {OwnerVia::None, "none"}, {OwnerVia::Connect, "connect"}, {OwnerVia::Listen, "listen"},
    {OwnerVia::Accept, "accept"}, {OwnerVia::Listener, "listener"}, {OwnerVia::FdTable, "fd_table"},
}};
static_assert(kOwnerVias.size() == static_cast<std::size_t>(OwnerVia::FdTable) + 1);

constexpr std::array<EnumName<ReleaseVia>, 6> kReleaseVias = {{
    {ReleaseVia::Close, "close"}, {ReleaseVia::CloseRange, "close_range"}, {ReleaseVia::Dup2, "dup2"},
    {ReleaseVia::Dup3, "dup3"}, {ReleaseVia::Exit, "exit"}, {ReleaseVia::Exec, "exec"},
}};
static_assert(kReleaseVias.size() == static_cast<std::size_t>(ReleaseVia::Exec)); // from 1, as TL_VIA_*

} // namespace

std::string_view owner_via_name(OwnerVia via) { return name_in(kOwnerVias, via, "none"); }

std::string_view release_via_name(ReleaseVia via) { return name_in(kReleaseVias, via, "close"); }

} // namespace tcpleak
