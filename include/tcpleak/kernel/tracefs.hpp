// Classic tracepoints (syscalls:*) are attached through tracefs, which a
// fresh machine does not mount. TracefsAccess makes it reachable without
// mounting it for everyone: when it is missing, it is mounted in a private
// mount namespace, and leave() returns the process to its own namespace and
// working directory (attached tracepoints stay).
//
// Availability is decided by opening the files libbpf will read, with the
// credentials tcpleak holds (access() would use the real uid and lie under
// setuid or file capabilities). Without CAP_SYS_ADMIN and CAP_SYS_CHROOT
// (setns back needs both) no private mount is tried: the tp_btf fallback
// hooks do the same work.
#pragma once

#include <string>
#include <string_view>

namespace tcpleak {

class TracefsAccess {
public:
    TracefsAccess(); // throws UserError when it cannot return to its own namespace
    ~TracefsAccess(); // best effort (an exception is already on its way)
    TracefsAccess(const TracefsAccess&) = delete;
    TracefsAccess& operator=(const TracefsAccess&) = delete;

    bool available() const { return !events_dir_.empty(); }
    bool mounted_privately() const { return original_mount_ns_ >= 0; }
    bool has_event(std::string_view category, std::string_view name) const;
    // Why available() is false, for -v.
    const std::string& unavailable_reason() const { return unavailable_reason_; }

    // Back to the original mount namespace and working directory, once
    // everything is attached. Throws UserError if setns() or fchdir() fails:
    // tcpleak must not go on (run's COMMAND would start in the private
    // namespace, or in the wrong directory).
    void leave();

private:
    void mount_privately();
    void return_home(bool throw_on_failure);

    std::string events_dir_;
    std::string unavailable_reason_;
    int original_mount_ns_ = -1;
    int original_cwd_ = -1;
    int original_root_ = -1; // a chrooted tcpleak stays in its chroot after setns()
};

} // namespace tcpleak
