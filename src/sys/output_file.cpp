#include "tcpleak/sys/output_file.hpp"

#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

namespace tcpleak {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
    throw UserError("cannot write " + path + ": " + why);
}

struct PathParts {
    std::string directory; // "." when path has no slash
    std::string name;      // the last component
};

PathParts split(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Nobody but root and tcpleak's own user can change what the directory holds.
bool trusted_directory(int directory_fd) {
    struct stat st{};
    if (fstat(directory_fd, &st) != 0)
        return false;
    return (st.st_uid == 0 || st.st_uid == geteuid()) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// The name of a kernel interface file system, or nullopt for a real one.
std::optional<std::string_view> kernel_interface(int fd) {
    struct statfs fs{};
    if (fstatfs(fd, &fs) != 0)
        return std::nullopt;
    switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC: return "procfs";
    case SYSFS_MAGIC: return "sysfs";
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC: return "cgroupfs";
    case DEBUGFS_MAGIC: return "debugfs";
    case TRACEFS_MAGIC: return "tracefs";
    case SECURITYFS_MAGIC: return "securityfs";
    case BPF_FS_MAGIC: return "bpffs";
    case PSTOREFS_MAGIC: return "pstore";
    case EFIVARFS_MAGIC: return "efivarfs";
    case SELINUX_MAGIC: return "selinuxfs";
    default: return std::nullopt;
    }
}

struct Opened {
    int fd = -1;          // -1: the directory does not exist
    bool created = false; // the file did not exist before
    PathParts parts;
    int directory_fd = -1;
};

// Opens path's last component in its directory with flags, following a
// symbolic link only in a trusted directory; then refuses kernel interfaces
// and files that take no write. exclusive_first: try O_EXCL first, to learn
// whether the file was created.
Opened open_checked(const std::string& path, int flags, bool exclusive_first, UniqueFd& directory) {
    Opened opened;
    opened.parts = split(path);
    if (opened.parts.name.empty() || opened.parts.name == "." || opened.parts.name == "..")
        fail(path, std::strerror(EISDIR));
    directory.reset(open(opened.parts.directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (directory.get() < 0) {
        if (errno == ENOENT)
            return opened;
        fail(path, std::strerror(errno));
    }
    opened.directory_fd = directory.get();
    const char* name = opened.parts.name.c_str();

    int fd = -1;
    if (exclusive_first) {
        fd = openat(directory.get(), name, flags | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
        opened.created = fd >= 0;
    }
    if (fd < 0 && (!exclusive_first || errno == EEXIST))
        fd = openat(directory.get(), name, flags | O_CREAT | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == ELOOP) {
        if (!trusted_directory(directory.get()))
            fail(path, "a symbolic link in " + opened.parts.directory +
                           ", which others can write to; tcpleak does not follow it (give the path it points to)");
        fd = openat(directory.get(), name, flags | O_CREAT, 0644);
    }
    if (fd < 0) {
        if (errno == ENXIO && (flags & O_NONBLOCK)) // a FIFO nobody reads yet: it blocks when written
            return opened;
        fail(path, std::strerror(errno));
    }
    UniqueFd file(fd);
    const auto remove_created = [&] {
        if (opened.created)
            unlinkat(directory.get(), name, 0);
    };
    struct stat st{};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if (const auto interface = kernel_interface(fd)) {
            remove_created();
            fail(path, "a kernel interface (" + std::string(*interface) + "), not a file for a report");
        }
    }
    // vfs_write refuses files without a write operation (EINVAL) before it
    // looks at the length; /dev/full says ENOSPC. Nothing is written.
    if (write(fd, "", 0) < 0) {
        const int err = errno;
        remove_created();
        fail(path, std::strerror(err));
    }
    opened.fd = file.release();
    return opened;
}

} // namespace

bool check_output_file(const std::string& path) {
    UniqueFd directory;
    const Opened opened = open_checked(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC, true, directory);
    if (opened.directory_fd < 0)
        return false;
    if (opened.fd >= 0)
        close(opened.fd);
    if (opened.created) // no empty report left behind if tcpleak fails
        unlinkat(directory.get(), opened.parts.name.c_str(), 0);
    return true;
}

int open_output_file(const std::string& path) {
    UniqueFd directory;
    // Truncated only once it passed the checks: O_TRUNC would act first.
    const Opened opened = open_checked(path, O_WRONLY | O_CLOEXEC, false, directory);
    if (opened.directory_fd < 0)
        fail(path, std::strerror(ENOENT));
    UniqueFd file(opened.fd);
    struct stat st{};
    if (fstat(file.get(), &st) == 0 && S_ISREG(st.st_mode) && ftruncate(file.get(), 0) != 0)
        fail(path, std::strerror(errno));
    return file.release();
}

} // namespace tcpleak
