// What the identity tests share: a temporary directory tree and a clock they step by hand.
#pragma once

#include "tcpleak/identity/refresh_limit.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace tcpleak::identity::test {

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

} // namespace tcpleak::identity::test
