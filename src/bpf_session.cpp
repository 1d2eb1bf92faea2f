#include "tcpleak/bpf_session.hpp"

#include "tcpleak/errors.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

extern "C" {
#include "tcpleak.h"
}
#include "tcpleak.skel.h"

namespace tcpleak {

namespace {

int g_libbpf_verbosity = 0;

int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
    const int wanted = level == LIBBPF_WARN ? 1 : level == LIBBPF_INFO ? 2 : 3;
    if (wanted > g_libbpf_verbosity)
        return 0;
    std::fputs("libbpf: ", stderr);
    return std::vfprintf(stderr, format + (std::strncmp(format, "libbpf: ", 8) == 0 ? 8 : 0), args);
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

[[noreturn]] void fail_to_load(const char* what, int err) {
    err = err < 0 ? -err : err;
    if (err == EPERM || err == EACCES)
        throw UserError(std::string(what) + ": permission denied by the kernel; tcpleak needs CAP_BPF and " +
                        "CAP_PERFMON (run it as root, e.g. with sudo)");
    throw UserError(std::string(what) + ": " + errno_text(err) + " (run with -vv for libbpf's log)");
}

// What the kernel charged for one map ("memlock:" in its fdinfo).
std::uint64_t map_memlock_bytes(int map_fd) {
    std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(map_fd));
    std::string key;
    std::uint64_t value = 0;
    while (fdinfo >> key) {
        if (key == "memlock:") {
            fdinfo >> value;
            return value;
        }
        fdinfo.ignore(4096, '\n');
    }
    return 0;
}

void configure_syscalls(tcpleak_bpf* skel) {
    auto& rodata = *skel->rodata;
    rodata.cfg_nr_accept4 = SYS_accept4;
#ifdef SYS_accept
    rodata.cfg_nr_accept = SYS_accept;
#endif
    rodata.cfg_nr_close = SYS_close;
#ifdef SYS_close_range
    rodata.cfg_nr_close_range = SYS_close_range;
#else
    rodata.cfg_nr_close_range = 436;
#endif
#ifdef SYS_dup2
    rodata.cfg_nr_dup2 = SYS_dup2;
#endif
    rodata.cfg_nr_dup3 = SYS_dup3;
}

void configure_filters(tcpleak_bpf* skel, const BpfConfig& config) {
    auto& rodata = *skel->rodata;
    rodata.cfg_mode = config.mode == ForwardMode::CloseWaitOnly ? TL_MODE_LEAKS : TL_MODE_TRACE;
    rodata.cfg_filter_pids = !config.pids.empty() || config.follow_forks;
    rodata.cfg_follow_forks = config.follow_forks;
    if (config.comm) {
        rodata.cfg_filter_comm = 1;
        std::memset(const_cast<char*>(rodata.cfg_comm), 0, sizeof(rodata.cfg_comm));
        std::memcpy(const_cast<char*>(rodata.cfg_comm), config.comm->data(),
                    std::min(config.comm->size(), sizeof(rodata.cfg_comm) - 1));
    }
    rodata.cfg_filter_ports = !config.ports.empty();
    rodata.cfg_family = config.family;
    rodata.cfg_state_mask = config.state_mask;
    // Wake the consumer once an eighth of the ring is filled; otherwise it
    // polls on a short timeout. One wakeup per record costs ~20x.
    rodata.cfg_wakeup_bytes = config.ring_bytes / 8;
}

void choose_programs(tcpleak_bpf* skel, const BpfConfig& config) {
    const bool watch_releases = config.mode == ForwardMode::CloseWaitOnly;
    bpf_program__set_autoload(skel->progs.on_sys_enter, watch_releases);
    bpf_program__set_autoload(skel->progs.on_process_fork, config.follow_forks);
    bpf_program__set_autoload(skel->progs.on_process_exec, config.follow_forks);
    bpf_program__set_autoload(skel->progs.on_process_exit, config.follow_forks);
    if (!watch_releases)
        bpf_map__set_max_entries(skel->maps.fd_releases, 1);
    if (!config.follow_forks && config.pids.empty())
        bpf_map__set_max_entries(skel->maps.selected_pids, 1);
}

void fill_filter_maps(tcpleak_bpf* skel, const BpfConfig& config) {
    const __u8 yes = 1;
    for (const std::uint32_t pid : config.pids)
        if (bpf_map__update_elem(skel->maps.selected_pids, &pid, sizeof(pid), &yes, sizeof(yes), BPF_ANY))
            fail_to_load("cannot set the pid filter", errno);
    for (const std::uint16_t port : config.ports)
        if (bpf_map__update_elem(skel->maps.filter_ports, &port, sizeof(port), &yes, sizeof(yes), BPF_ANY))
            fail_to_load("cannot set the port filter", errno);
}

} // namespace

void route_libbpf_log(int verbose) {
    g_libbpf_verbosity = verbose;
    libbpf_set_print(print_libbpf);
}

void BpfSession::SkeletonDeleter::operator()(tcpleak_bpf* skeleton) const { tcpleak_bpf__destroy(skeleton); }

BpfSession::BpfSession(const BpfConfig& config) {
    skeleton_.reset(tcpleak_bpf__open());
    if (!skeleton_)
        fail_to_load("cannot open the BPF object", errno);
    tcpleak_bpf* skel = skeleton_.get();

    configure_syscalls(skel);
    configure_filters(skel, config);
    choose_programs(skel, config);
    bpf_map__set_max_entries(skel->maps.events, static_cast<__u32>(config.ring_bytes));

    if (const int err = tcpleak_bpf__load(skel))
        fail_to_load("cannot load the BPF programs", err);
    fill_filter_maps(skel, config);

    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel->obj) {
        if (bpf_map__fd(map) >= 0)
            map_memory_bytes_ += map_memlock_bytes(bpf_map__fd(map));
    }

    if (const int err = tcpleak_bpf__attach(skel))
        fail_to_load("cannot attach the BPF programs", err);
    attached_ = true;
}

BpfSession::~BpfSession() = default;

int BpfSession::ring_buffer_fd() const { return bpf_map__fd(skeleton_->maps.events); }

void BpfSession::select_pid(std::uint32_t pid) {
    const __u8 yes = 1;
    if (bpf_map__update_elem(skeleton_->maps.selected_pids, &pid, sizeof(pid), &yes, sizeof(yes), BPF_ANY))
        throw UserError("cannot select pid " + std::to_string(pid) + ": " + errno_text(errno));
}

KernelCounters BpfSession::read_counters() const {
    const int cpus = libbpf_num_possible_cpus();
    std::array<std::uint64_t, TL_CNT_MAX> totals{};
    std::vector<std::uint64_t> per_cpu(cpus > 0 ? cpus : 1);
    for (__u32 index = 0; index < TL_CNT_MAX; ++index) {
        if (bpf_map__lookup_elem(skeleton_->maps.counters, &index, sizeof(index), per_cpu.data(),
                                 per_cpu.size() * sizeof(std::uint64_t), 0) != 0)
            continue;
        for (const auto value : per_cpu)
            totals[index] += value;
    }
    KernelCounters counters;
    counters.transitions = totals[TL_CNT_TRANSITIONS];
    counters.sent = totals[TL_CNT_SENT];
    counters.lost = totals[TL_CNT_LOST];
    counters.storage_failed = totals[TL_CNT_STORAGE_FAILED];
    counters.accept_map_full = totals[TL_CNT_ACCEPT_MAP_FULL];
    counters.accept_missed = totals[TL_CNT_ACCEPT_MISSED];
    counters.release_map_update_failed = totals[TL_CNT_RELEASE_MAP_UPDATE_FAILED];
    counters.pids_full = totals[TL_CNT_PIDS_FULL];
    return counters;
}

std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> BpfSession::read_transition_counts() const {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> per_cpu(cpus > 0 ? cpus : 1);
    std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> counts;
    for (__u32 index = 0; index < 256; ++index) {
        if (bpf_map__lookup_elem(skeleton_->maps.transition_counts, &index, sizeof(index), per_cpu.data(),
                                 per_cpu.size() * sizeof(std::uint64_t), 0) != 0)
            continue;
        std::uint64_t total = 0;
        for (const auto value : per_cpu)
            total += value;
        if (total)
            counts[{static_cast<std::uint8_t>(index >> 4), static_cast<std::uint8_t>(index & 15)}] = total;
    }
    return counts;
}

std::uint64_t BpfSession::map_memory_bytes() const { return map_memory_bytes_; }

std::vector<SocketHolder> BpfSession::seed_existing_sockets() { return run_iterator(TL_ITER_SEED); }

std::vector<SocketHolder> BpfSession::find_holders(std::span<const std::uint64_t> cookies) {
    bpf_map* targets = skeleton_->maps.holder_targets;
    const __u8 yes = 1;
    std::vector<std::uint64_t> added;
    for (const std::uint64_t cookie : cookies)
        if (bpf_map__update_elem(targets, &cookie, sizeof(cookie), &yes, sizeof(yes), BPF_ANY) == 0)
            added.push_back(cookie);
    auto holders = run_iterator(TL_ITER_HOLDERS);
    for (const std::uint64_t cookie : added)
        bpf_map__delete_elem(targets, &cookie, sizeof(cookie), 0);
    return holders;
}

std::vector<SocketHolder> BpfSession::run_iterator(std::uint8_t mode) {
    skeleton_->data->iter_mode = mode;
    const int iter_fd = bpf_iter_create(bpf_link__fd(skeleton_->links.iter_socket_holders));
    if (iter_fd < 0)
        throw UserError("cannot read descriptor tables: " + errno_text(errno));

    std::vector<SocketHolder> holders;
    std::vector<std::byte> buffer(64 * socket_record_size());
    std::size_t filled = 0;
    for (;;) {
        const ssize_t n = read(iter_fd, buffer.data() + filled, buffer.size() - filled);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        filled += static_cast<std::size_t>(n);
        std::size_t used = 0;
        for (; filled - used >= socket_record_size(); used += socket_record_size()) {
            SocketHolder holder;
            if (decode(std::span(buffer).subspan(used, socket_record_size()), holder))
                holders.push_back(holder);
        }
        std::memmove(buffer.data(), buffer.data() + used, filled - used);
        filled -= used;
    }
    close(iter_fd);
    return holders;
}

void BpfSession::detach() {
    if (attached_) {
        tcpleak_bpf__detach(skeleton_.get());
        attached_ = false;
    }
}

} // namespace tcpleak
