// tcpleak-identity-costs: what the identity library costs on this machine.
//
//   tcpleak-identity-costs [--cgroup-root DIR] [--cgroups N]
//
// Adds N cgroups shaped like a node's pods (a pod slice and two container
// scopes each) under <root>/tcpleak-identity-costs-<pid>/, a matching fake
// kubelet log directory under /tmp, measures, and removes all of it. Needs
// root for a real cgroup2 root; any directory works as --cgroup-root.
// Prints one "what: figure" line per measurement (medians of repeats).

#include "tcpleak/identity/error.hpp"
#include "tcpleak/identity/identity.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace tcpleak::identity;
using Steady = std::chrono::steady_clock;

namespace {

std::string hex(std::mt19937_64& random, int digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < digits; ++i)
        out += kDigits[random() % 16];
    return out;
}

std::string uuid(std::mt19937_64& random) {
    return hex(random, 8) + "-" + hex(random, 4) + "-" + hex(random, 4) + "-" + hex(random, 4) + "-" + hex(random, 12);
}

std::string underscored(std::string uid) {
    std::replace(uid.begin(), uid.end(), '-', '_');
    return uid;
}

// Everything made, removed deepest first when the scope ends, whatever happens.
class Created {
public:
    ~Created() {
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it)
            if (::rmdir(it->c_str()) != 0)
                std::fprintf(stderr, "tcpleak-identity-costs: could not remove %s\n", it->c_str());
        std::error_code ignored;
        for (const auto& tree : trees_)
            std::filesystem::remove_all(tree, ignored);
    }
    void mkdir(const std::string& dir) {
        if (::mkdir(dir.c_str(), 0755) != 0)
            throw IdentityError("cannot create " + dir);
        dirs_.push_back(dir);
    }
    void tree(const std::string& dir) { trees_.push_back(dir); }

private:
    std::vector<std::string> dirs_;
    std::vector<std::string> trees_;
};

struct Node {
    std::vector<std::uint64_t> container_ids; // cgroup ids of the container scopes
    std::vector<std::string> container_paths;
    std::string pods_dir, containers_dir;
};

Node make_node(const std::string& root, int cgroups, Created& created) {
    std::mt19937_64 random(7);
    Node node;
    const std::string top = root + "/tcpleak-identity-costs-" + std::to_string(::getpid());
    const std::string qos = top + "/kubepods.slice/kubepods-burstable.slice";
    created.mkdir(top);
    created.mkdir(top + "/kubepods.slice");
    created.mkdir(qos);
    char logs_template[] = "/tmp/tcpleak-identity-costs-XXXXXX";
    const std::string logs = ::mkdtemp(logs_template);
    created.tree(logs);
    node.pods_dir = logs + "/pods";
    node.containers_dir = logs + "/containers";
    std::filesystem::create_directories(node.containers_dir);
    for (int pod = 0; pod < cgroups / 3; ++pod) {
        const std::string uid = uuid(random);
        const std::string slice = qos + "/kubepods-burstable-pod" + underscored(uid) + ".slice";
        const std::string pod_name = "app-" + std::to_string(pod);
        created.mkdir(slice);
        for (const char* container : {"app", "sidecar"}) {
            const std::string id = hex(random, 64);
            const std::string scope = slice + "/cri-containerd-" + id + ".scope";
            created.mkdir(scope);
            struct stat st {};
            ::stat(scope.c_str(), &st);
            node.container_ids.push_back(st.st_ino);
            node.container_paths.push_back(scope.substr(root.size()));
            const std::string log_dir = node.pods_dir + "/default_" + pod_name + "_" + uid + "/" + container;
            std::filesystem::create_directories(log_dir);
            std::filesystem::create_symlink(log_dir + "/0.log", node.containers_dir + "/" + pod_name + "_default_" +
                                                                    container + "-" + id + ".log");
        }
    }
    return node;
}

// CPU time, which the other load on a shared machine disturbs less than wall time.
double thread_cpu_microseconds() {
    timespec now {};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

double median(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    return samples.empty() ? 0 : samples[samples.size() / 2];
}

template <typename Work>
double nanoseconds_each(std::size_t count, Work&& work) {
    const auto start = Steady::now();
    for (std::size_t i = 0; i < count; ++i)
        work(i);
    return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / static_cast<double>(count);
}

void measure(const std::string& root, const Node& node) {
    CgroupPathsOptions options;
    options.root = root;
    CgroupPaths cgroups(options);
    std::vector<double> walks, walks_cpu;
    for (int i = 0; i < 21; ++i) {
        const double cpu_before = thread_cpu_microseconds();
        cgroups.walk();
        walks_cpu.push_back(thread_cpu_microseconds() - cpu_before);
        walks.push_back(std::chrono::duration<double, std::micro>(cgroups.stats().last_walk).count());
    }
    std::printf("cgroups in the tree: %zu\n", cgroups.stats().entries);
    std::printf("full walk: %.0f us wall, %.0f us CPU (medians of 21)\n", median(walks), median(walks_cpu));
    std::printf("file handles: %s\n", cgroups.stats().file_handles ? "yes" : "no");

    const std::size_t n = node.container_ids.size();
    if (n == 0)
        return;
    CgroupPathsOptions uncached = options;
    uncached.max_entries = 1; // every lookup misses the cache: the single-id path
    CgroupPaths handles(uncached);
    if (handles.stats().file_handles)
        std::printf("miss resolved by file handle: %.0f ns\n",
                    nanoseconds_each(n, [&](std::size_t i) { (void)handles.path_of(node.container_ids[i]); }));
    std::printf("parse_cgroup_path: %.0f ns\n",
                nanoseconds_each(n, [&](std::size_t i) { (void)parse_cgroup_path(node.container_paths[i]); }));

    PodDirectoryOptions pod_options;
    pod_options.pods_dir = node.pods_dir;
    pod_options.containers_dir = node.containers_dir;
    PodDirectory pods(pod_options);
    std::vector<double> refreshes;
    for (int i = 0; i < 11; ++i) {
        pods.refresh();
        refreshes.push_back(std::chrono::duration<double, std::micro>(pods.stats().last_refresh).count());
    }
    std::printf("pod directory re-read (%zu pods, %zu container links): %.0f us (median of 11)\n",
                pods.stats().pods, pods.stats().containers, median(refreshes));

    IdentityResolver resolver(cgroups, &pods);
    std::printf("identity, first sight of a cgroup id: %.0f ns\n",
                nanoseconds_each(n, [&](std::size_t i) { (void)resolver.of_cgroup(node.container_ids[i]); }));
    std::mt19937_64 random(1);
    std::vector<std::uint64_t> order(1'000'000);
    for (auto& id : order)
        id = node.container_ids[random() % n];
    std::printf("identity, cache hit: %.0f ns\n",
                nanoseconds_each(order.size(), [&](std::size_t i) { (void)resolver.of_cgroup(order[i]); }));
    std::printf("identity by pid (/proc/PID/cgroup, stat, hit): %.0f ns\n",
                nanoseconds_each(10'000, [&](std::size_t) { (void)resolver.of_pid(::getpid()); }));
}

} // namespace

int main(int argc, char** argv) {
    std::string root;
    int cgroups = 5000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--cgroup-root")
            root = argv[i + 1];
        else if (flag == "--cgroups")
            cgroups = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: tcpleak-identity-costs [--cgroup-root DIR] [--cgroups N]\n");
            return 2;
        }
    }
    try {
        if (root.empty())
            root = CgroupPaths().root();
        Created created;
        const auto start = Steady::now();
        const Node node = make_node(root, cgroups, created);
        std::printf("cgroup root: %s; added %zu cgroups (%zu containers) in %.1f s\n", root.c_str(),
                    node.container_ids.size() * 3 / 2,
                    node.container_ids.size(), std::chrono::duration<double>(Steady::now() - start).count());
        measure(root, node);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "tcpleak-identity-costs: %s\n", error.what());
        return 1;
    }
    return 0;
}
