#include "tcpleak/kernel/tracefs.hpp"

#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpleak {

namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing";

// Opening is the test: it uses the credentials and capabilities tcpleak has.
bool can_open(const std::string& path, int flags) {
    return static_cast<bool>(UniqueFd(open(path.c_str(), flags | O_CLOEXEC)));
}

bool has_events(const char* dir) { return can_open(std::string(dir) + "/events", O_RDONLY | O_DIRECTORY); }

// libbpf reads /sys/kernel/debug/tracing/events/... when it thinks that
// directory exists, else /sys/kernel/tracing/...; libbpf 1.1 (Debian 12)
// asks access(), with the real uid, later ones faccessat(AT_EACCESS). The
// debugfs path is only relied on when both would choose it.
bool libbpf_uses_debugfs() {
    return access(kDebugfsTracing, F_OK) == 0 && faccessat(AT_FDCWD, kDebugfsTracing, F_OK, AT_EACCESS) == 0;
}

bool has_capability(std::uint64_t effective, int cap) { return (effective >> cap) & 1U; }

} // namespace

TracefsAccess::TracefsAccess() {
    if (has_events(kTracefs)) {
        events_dir_ = std::string(kTracefs) + "/events";
        return;
    }
    if (has_events(kDebugfsTracing) && libbpf_uses_debugfs()) {
        events_dir_ = std::string(kDebugfsTracing) + "/events";
        return;
    }
    const std::uint64_t caps = effective_capabilities();
    if (!has_capability(caps, kCapSysAdmin) || !has_capability(caps, kCapSysChroot)) {
        unavailable_reason_ = "tracefs is not mounted, and mounting it in a private mount namespace needs "
                              "CAP_SYS_ADMIN and CAP_SYS_CHROOT";
        return;
    }
    mount_privately();
}

TracefsAccess::~TracefsAccess() { return_home(false); }

void TracefsAccess::leave() { return_home(true); }

// unshare() and setns() of a mount namespace both need a single-threaded
// process, which tcpleak is while it attaches.
void TracefsAccess::mount_privately() {
    original_mount_ns_ = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    original_cwd_ = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    original_root_ = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (original_mount_ns_ < 0 || original_cwd_ < 0 || original_root_ < 0 || unshare(CLONE_NEWNS) != 0) {
        unavailable_reason_ = std::string("tracefs is not mounted, and no private mount namespace: ") +
                              std::strerror(errno);
        return_home(true);
        return;
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        mount("tracefs", kTracefs, "tracefs", 0, nullptr) == 0 && has_events(kTracefs)) {
        events_dir_ = std::string(kTracefs) + "/events";
        return;
    }
    unavailable_reason_ = std::string("tracefs cannot be mounted: ") + std::strerror(errno);
    return_home(true);
}

bool TracefsAccess::has_event(std::string_view category, std::string_view name) const {
    return available() && can_open(events_dir_ + "/" + std::string(category) + "/" + std::string(name) + "/id", O_RDONLY);
}

// Back to the mount namespace we came from. setns() also moves the root and
// the working directory to that namespace's root: a tcpleak started in a
// chroot would leave it, so the root is restored (chroot into the directory
// kept open, which CAP_SYS_CHROOT allows) and then the working directory.
void TracefsAccess::return_home(bool throw_on_failure) {
    std::string failure;
    if (original_mount_ns_ >= 0) {
        if (setns(original_mount_ns_, CLONE_NEWNS) != 0)
            failure = std::string("cannot return to the original mount namespace after mounting tracefs privately: ") +
                      std::strerror(errno) + " (mount tracefs for everyone instead: mount -t tracefs tracefs " +
                      kTracefs + ")";
        close(original_mount_ns_);
        original_mount_ns_ = -1;
    }
    if (original_root_ >= 0) {
        if (failure.empty() && (fchdir(original_root_) != 0 || chroot(".") != 0))
            failure = std::string("cannot return to the root directory after mounting tracefs privately: ") +
                      std::strerror(errno);
        close(original_root_);
        original_root_ = -1;
    }
    if (original_cwd_ >= 0) {
        if (failure.empty() && fchdir(original_cwd_) != 0)
            failure = std::string("cannot return to the working directory after mounting tracefs privately: ") +
                      std::strerror(errno);
        close(original_cwd_);
        original_cwd_ = -1;
    }
    if (!failure.empty() && throw_on_failure)
        throw UserError(failure);
}

} // namespace tcpleak
