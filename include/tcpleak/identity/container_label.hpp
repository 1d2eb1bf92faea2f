// The name people know a cgroup's workload by, for one row per container
// (`tcpleak top --by container`).
#pragma once

#include "tcpleak/identity/identity.hpp"

#include <string>

namespace tcpleak::identity {

// The Kubernetes namespace/pod/container, else the runtime's container id
// (12 hex digits, as `docker ps` shows it), else the systemd unit, else the
// cgroup path; "" for the root cgroup (the host's processes). Raw bytes of
// the kubelet or whoever named the cgroup: escape them when writing.
std::string container_label(const Identity& identity);

} // namespace tcpleak::identity
