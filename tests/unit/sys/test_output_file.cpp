#include "tcpleak/sys/output_file.hpp"

#include "tcpleak/sys/errors.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

using namespace tcpleak;

namespace {

// A fresh directory, removed (with what the tests put there) at the end.
class TempDir {
public:
    TempDir() {
        char name[] = "/tmp/tcpleak-unit-XXXXXX";
        REQUIRE(mkdtemp(name) != nullptr);
        path_ = name;
    }
    ~TempDir() {
        const std::string command = "rm -rf '" + path_ + "'";
        (void)!std::system(command.c_str());
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string contents(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool exists(const std::string& path) {
    struct stat st{};
    return lstat(path.c_str(), &st) == 0;
}

std::string error_of(const std::string& path, bool check) {
    try {
        if (check)
            check_output_file(path);
        else
            close(open_output_file(path));
    } catch (const UserError& error) {
        return error.what();
    }
    return {};
}

void write_all(int fd, const std::string& text) {
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
}

} // namespace

TEST_CASE("a report file is checked without leaving anything behind, then written truncated") {
    TempDir dir;
    const std::string report = dir / "leaks.xml";
    CHECK(check_output_file(report));
    CHECK_FALSE(exists(report)); // created for the check, removed again

    std::ofstream(report) << "old and longer contents\n";
    CHECK(check_output_file(report));
    CHECK(contents(report) == "old and longer contents\n"); // an existing file is not touched by the check
    write_all(open_output_file(report), "new\n");
    CHECK(contents(report) == "new\n");
}

TEST_CASE("a directory that does not exist yet is not an error for the check, but is for the write") {
    TempDir dir;
    CHECK_FALSE(check_output_file(dir / "reports/leaks.xml"));
    CHECK(error_of(dir / "reports/leaks.xml", false) ==
          "cannot write " + (dir / "reports/leaks.xml") + ": No such file or directory");
}

TEST_CASE("a symbolic link in a directory others can write to is not followed") {
    TempDir dir;
    const std::string victim = dir / "victim";
    std::ofstream(victim) << "precious\n";
    const std::string shared = dir / "shared";
    REQUIRE(mkdir(shared.c_str(), 0700) == 0);
    REQUIRE(chmod(shared.c_str(), 01777) == 0); // like /tmp
    const std::string planted = shared + "/leaks.xml";
    REQUIRE(symlink(victim.c_str(), planted.c_str()) == 0);

    const std::string why = "cannot write " + planted + ": a symbolic link in " + shared +
                            ", which others can write to; tcpleak does not follow it (give the path it points to)";
    CHECK(error_of(planted, true) == why);
    CHECK(error_of(planted, false) == why);
    CHECK(contents(victim) == "precious\n");

    // A dangling one would have created its target.
    const std::string dangling = shared + "/dangling.xml";
    REQUIRE(symlink((dir / "created-through-the-link").c_str(), dangling.c_str()) == 0);
    CHECK(error_of(dangling, false).find(": a symbolic link in ") != std::string::npos);
    CHECK_FALSE(exists(dir / "created-through-the-link"));
}

TEST_CASE("a symbolic link in a directory only its owner can write to is followed") {
    TempDir dir; // mkdtemp: 0700, ours
    const std::string target = dir / "target.xml";
    const std::string link = dir / "link.xml";
    REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
    CHECK(check_output_file(link));
    write_all(open_output_file(link), "through the link\n");
    CHECK(contents(target) == "through the link\n");
    // /proc/self/fd/N (a link in a directory of ours, 0500), as /dev/stdout
    // leads to (/dev: root's, 0755).
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    const std::string fd_link = "/proc/self/fd/" + std::to_string(fds[1]);
    CHECK(check_output_file(fd_link));
    write_all(open_output_file(fd_link), "to the pipe\n");
    char got[32] = {};
    CHECK(read(fds[0], got, sizeof(got)) == 12);
    CHECK(std::string(got) == "to the pipe\n");
    close(fds[0]);
    close(fds[1]);
}

TEST_CASE("kernel interfaces and files that refuse writes are not report files") {
    const std::string version = error_of("/proc/version", true);
    CHECK(version.starts_with("cannot write /proc/version: "));
    if (geteuid() == 0) // root may open it for writing; an unprivileged user gets EACCES
        CHECK(version == "cannot write /proc/version: a kernel interface (procfs), not a file for a report");
    CHECK(error_of("/dev/full", true) == "cannot write /dev/full: No space left on device");
    CHECK(error_of("/proc", true).starts_with("cannot write /proc: "));
    CHECK(error_of("/tmp/", true) == "cannot write /tmp/: Is a directory");
    CHECK(check_output_file("/dev/null"));
}
