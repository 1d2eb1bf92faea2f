#include "tcpleak/kernel/tracefs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

namespace tcpleak {

namespace {

// Where libbpf looks, in its order of preference.
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing";
constexpr const char* kTracefs = "/sys/kernel/tracing";

bool has_events(const std::string& dir) { return access((dir + "/events").c_str(), F_OK) == 0; }

} // namespace

TracefsAccess::TracefsAccess() {
    for (const char* dir : {kDebugfsTracing, kTracefs}) {
        if (has_events(dir)) {
            events_dir_ = std::string(dir) + "/events";
            return;
        }
    }
    // unshare() and setns() of a mount namespace both need a single-threaded
    // process, which tcpleak is while it attaches.
    original_mount_ns_ = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    original_cwd_ = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (original_mount_ns_ < 0 || original_cwd_ < 0 || unshare(CLONE_NEWNS) != 0) {
        return_home();
        return;
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        mount("tracefs", kTracefs, "tracefs", 0, nullptr) == 0 && has_events(kTracefs))
        events_dir_ = std::string(kTracefs) + "/events";
    else
        return_home();
}

TracefsAccess::~TracefsAccess() { return_home(); }

bool TracefsAccess::has_event(std::string_view category, std::string_view name) const {
    return available() &&
           access((events_dir_ + "/" + std::string(category) + "/" + std::string(name) + "/id").c_str(), F_OK) == 0;
}

// Back to the mount namespace we came from; setns() also moves the working
// directory to that namespace's root, so restore it.
void TracefsAccess::return_home() {
    if (original_mount_ns_ >= 0) {
        (void)!setns(original_mount_ns_, CLONE_NEWNS);
        close(original_mount_ns_);
        original_mount_ns_ = -1;
    }
    if (original_cwd_ >= 0) {
        (void)!fchdir(original_cwd_);
        close(original_cwd_);
        original_cwd_ = -1;
    }
}

} // namespace tcpleak
