// What the identity tests share: sample ids, a temporary directory tree, the
// kubelet's log directories in one, and a clock they step by hand.
#pragma once

#include "tcpleak/identity/pod_directory.hpp"
#include "tcpleak/identity/refresh_limit.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace tcpleak::identity::test {

// Pod uids and container ids (64 lower-case hex digits) as the kubelet and the runtimes make them.
inline const std::string kUid = "5ed8a4f6-db4e-4b7e-a87c-67da390d031d";
inline const std::string kUid2 = "8712f785-1a3e-41ec-a00b-e2dcc77431cb";
inline const std::string kId = "c50666e24d9091a348a831015800cd8c603e3fb9ca23958b249f74e17487f21d";
inline const std::string kId2 = "73051af271105c07e1f493b34856a77e665e3b0b4fc72f76c807dfbffeb881bd";

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tcpleak-identity-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Creates dirs below the root; `relative` may start with '/'.
    std::filesystem::path mkdirs(const std::string& relative) const {
        const std::filesystem::path dir = below(relative);
        std::filesystem::create_directories(dir);
        return dir;
    }

    void write(const std::string& relative, const std::string& text) const {
        const std::filesystem::path file = below(relative);
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
    }

    std::uint64_t inode(const std::string& relative) const {
        struct stat st {};
        if (::stat(below(relative).c_str(), &st) != 0)
            throw std::runtime_error("stat failed: " + relative);
        return st.st_ino;
    }

    std::filesystem::path below(const std::string& relative) const {
        return relative.empty() || relative == "/" ? path_ : path_ / relative.substr(relative.front() == '/' ? 1 : 0);
    }

private:
    std::filesystem::path path_;
};

struct ManualClock {
    TimePoint now{std::chrono::seconds(1000)};
    Clock clock() {
        return [this] { return now; };
    }
};

// The kubelet's log directories at `base` in a TempDir (a node's /var/log):
// pods/<ns>_<pod>_<uid>/<container>/0.log and the containers/ links to them.
class KubeletLogs {
public:
    explicit KubeletLogs(const TempDir& dir, std::string base = "") : dir_(dir), base_(std::move(base)) {}

    void add_pod(const std::string& ns, const std::string& pod, const std::string& uid) const {
        dir_.mkdirs(base_ + "/pods/" + ns + "_" + pod + "_" + uid);
    }

    void add_container(const std::string& ns, const std::string& pod, const std::string& uid,
                       const std::string& container, const std::string& id) const {
        const std::string log = base_ + "/pods/" + ns + "_" + pod + "_" + uid + "/" + container + "/0.log";
        dir_.write(log, "");
        dir_.mkdirs(base_ + "/containers");
        std::filesystem::create_symlink(
            dir_.below(log), dir_.below(base_ + "/containers/" + pod + "_" + ns + "_" + container + "-" + id + ".log"));
    }

    PodDirectoryOptions options(ManualClock& clock) const {
        PodDirectoryOptions options;
        options.pods_dir = dir_.below(base_ + "/pods").string();
        options.containers_dir = dir_.below(base_ + "/containers").string();
        options.clock = clock.clock();
        return options;
    }

private:
    const TempDir& dir_;
    std::string base_;
};

} // namespace tcpleak::identity::test
