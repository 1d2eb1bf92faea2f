// identity-probe: what the identity library says about pids and cgroup ids on
// this machine, one key=value line per field, for check.sh (run as root).
//
//   identity-probe [--cgroup-root DIR] [--pods-dir DIR] [--containers-dir DIR]
//                  [--max-entries N] (--pid PID | --cgroup-id ID)...
//
// --max-entries 1 leaves only the root in the path cache, so every cgroup id
// is resolved by file handle (or not at all, without CAP_DAC_READ_SEARCH).
//
// Exit status: 0 ok, 1 the library could not start, 2 usage error.

#include "tcpleak/identity/error.hpp"
#include "tcpleak/identity/identity.hpp"

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

using namespace tcpleak::identity;

namespace {

struct Query {
    bool by_pid;
    std::uint64_t number;
};

struct Arguments {
    CgroupPathsOptions cgroups;
    PodDirectoryOptions pods;
    std::vector<Query> queries;
};

bool parse_number(std::string_view text, std::uint64_t& out) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && end == text.data() + text.size();
}

bool parse_arguments(int argc, char** argv, Arguments& args) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        const char* value = argv[i + 1];
        std::uint64_t number = 0;
        if (flag == "--cgroup-root")
            args.cgroups.root = value;
        else if (flag == "--pods-dir")
            args.pods.pods_dir = value;
        else if (flag == "--containers-dir")
            args.pods.containers_dir = value;
        else if (flag == "--max-entries" && parse_number(value, number) && number > 0)
            args.cgroups.max_entries = number;
        else if ((flag == "--pid" || flag == "--cgroup-id") && parse_number(value, number))
            args.queries.push_back({flag == "--pid", number});
        else
            return false;
    }
    return argc % 2 == 1 && !args.queries.empty();
}

// Raw bytes stay raw except controls, which would forge lines.
std::string printable(std::string_view bytes) {
    std::string out;
    for (const char c : bytes) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
            out += hex;
        } else {
            out += c;
        }
    }
    return out;
}

void print(const Query& query, const Identity& identity) {
    std::printf("query=%s:%llu\n", query.by_pid ? "pid" : "cgroup_id", static_cast<unsigned long long>(query.number));
    std::printf("cgroup_id=%llu\n", static_cast<unsigned long long>(identity.cgroup_id));
    std::printf("cgroup_path=%s\n", printable(identity.cgroup_path).c_str());
    std::printf("container_id=%s\n", identity.container_id.c_str());
    std::printf("container_runtime=%s\n", std::string(to_string(identity.container_runtime)).c_str());
    std::printf("container_name=%s\n", identity.container_name.c_str());
    std::printf("pod_uid=%s\n", identity.pod_uid.c_str());
    std::printf("pod_qos=%s\n", std::string(to_string(identity.pod_qos)).c_str());
    std::printf("pod=%s\n", identity.pod.c_str());
    std::printf("namespace=%s\n", identity.namespace_name.c_str());
    std::printf("systemd_unit=%s\n", identity.systemd_unit.c_str());
}

} // namespace

int main(int argc, char** argv) {
    Arguments args;
    if (!parse_arguments(argc, argv, args)) {
        std::fprintf(stderr, "usage: identity-probe [--cgroup-root DIR] [--pods-dir DIR] [--containers-dir DIR] "
                             "[--max-entries N] (--pid PID | --cgroup-id ID)...\n");
        return 2;
    }
    try {
        CgroupPaths cgroups(args.cgroups);
        PodDirectory pods(args.pods);
        IdentityResolver resolver(cgroups, &pods);
        std::printf("cgroup_root=%s\nfile_handles=%d\n", cgroups.root().c_str(), cgroups.stats().file_handles);
        for (const Query& query : args.queries)
            print(query, query.by_pid ? *resolver.of_pid(static_cast<std::uint32_t>(query.number))
                                      : *resolver.of_cgroup(query.number));
        const CgroupPathsStats stats = cgroups.stats();
        std::printf("lookups=%llu cache_hits=%llu handle_hits=%llu walk_hits=%llu misses=%llu walks=%llu\n",
                    static_cast<unsigned long long>(stats.lookups), static_cast<unsigned long long>(stats.cache_hits),
                    static_cast<unsigned long long>(stats.handle_hits), static_cast<unsigned long long>(stats.walk_hits),
                    static_cast<unsigned long long>(stats.misses), static_cast<unsigned long long>(stats.walks));
    } catch (const IdentityError& error) {
        std::fprintf(stderr, "identity-probe: %s\n", error.what());
        return 1;
    }
    return 0;
}
