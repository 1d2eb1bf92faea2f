// Classic tracepoints (syscalls:*) are attached through tracefs, which a
// fresh machine does not mount. TracefsAccess makes it reachable without
// mounting it for everyone: when it is missing, it is mounted in a private
// mount namespace, and the process returns to its own namespace and working
// directory when the TracefsAccess goes away (attached tracepoints stay).
#pragma once

#include <string>
#include <string_view>

namespace tcpleak {

class TracefsAccess {
public:
    TracefsAccess();
    ~TracefsAccess();
    TracefsAccess(const TracefsAccess&) = delete;
    TracefsAccess& operator=(const TracefsAccess&) = delete;

    bool available() const { return !events_dir_.empty(); }
    bool mounted_privately() const { return original_mount_ns_ >= 0; }
    bool has_event(std::string_view category, std::string_view name) const;

private:
    void return_home();

    std::string events_dir_;
    int original_mount_ns_ = -1;
    int original_cwd_ = -1;
};

} // namespace tcpleak
