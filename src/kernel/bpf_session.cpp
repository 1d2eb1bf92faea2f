#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/kernel/preflight.hpp"
#include "tcpleak/sys/netns.hpp"
#include "tcpleak/kernel/decode.hpp"

#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/unique_fd.hpp"
#include "tcpleak/kernel/tracefs.hpp"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sched.h>
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
#include <optional>
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
    // With the capabilities held, EACCES/EPERM is the verifier refusing a
    // program (or a security module): saying "needs CAP_BPF" to root would
    // send the user the wrong way.
    if ((err == EPERM || err == EACCES) && !missing_capabilities(effective_capabilities()).empty())
        throw UserError(std::string(what) + ": permission denied by the kernel; tcpleak needs CAP_BPF and " +
                        "CAP_PERFMON (run it as root, e.g. with sudo)");
    if (err == EPERM || err == EACCES)
        throw UserError(std::string(what) + ": the kernel refused them although tcpleak holds CAP_BPF and "
                        "CAP_PERFMON: " + errno_text(err) + " (run with -vv for the verifier's log)");
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
    rodata.cfg_mode = config.mode == ForwardMode::LeakTracking ? TL_MODE_LEAKS : TL_MODE_TRACE;
    rodata.cfg_select = config.selects_owners();
    rodata.cfg_track_owners = config.tracks_owners();
    rodata.cfg_kernel_owners = config.kernel_owners();
    rodata.cfg_watch_states = config.watch_states;
    rodata.cfg_filter_pids = !config.pids.empty() || config.follow_forks;
    if (config.comm) {
        rodata.cfg_filter_comm = 1;
        std::memset(rodata.cfg_comm, 0, sizeof(rodata.cfg_comm));
        std::memcpy(rodata.cfg_comm, config.comm->data(), std::min(config.comm->size(), sizeof(rodata.cfg_comm) - 1));
    }
    rodata.cfg_filter_ports = !config.ports.empty();
    rodata.cfg_family = config.family;
    rodata.cfg_print_states = config.print_states;
    rodata.cfg_timing_states = config.timing_states;
    // Wake the consumer once per ~1/8 of the ring and CPU; otherwise it polls
    // on a short timeout. One wakeup per record costs ~20x.
    const std::size_t cpus = std::max(libbpf_num_possible_cpus(), 1);
    rodata.cfg_wakeup_records = static_cast<__u32>(std::max<std::size_t>(64, config.ring_bytes / 8 / cpus / 128));
}

// syscalls:* tracepoints run only for their syscall; the tp_btf fallback
// (no tracefs) runs for every syscall on the machine.
void choose_syscall_hooks(tcpleak_bpf* skel, bool watch_accepts, bool watch_releases,
                          const TracefsAccess& tracefs) {
    const bool classic = tracefs.has_event("syscalls", "sys_exit_accept4");
    const auto use = [&](bpf_program* program, bool wanted, const char* event) {
        bpf_program__set_autoload(program, classic && wanted && tracefs.has_event("syscalls", event));
    };
    use(skel->progs.on_accept4_exit, watch_accepts, "sys_exit_accept4");
    use(skel->progs.on_accept_exit, watch_accepts, "sys_exit_accept");
    use(skel->progs.on_close_enter, watch_releases, "sys_enter_close");
    use(skel->progs.on_close_range_enter, watch_releases, "sys_enter_close_range");
    use(skel->progs.on_dup2_enter, watch_releases, "sys_enter_dup2");
    use(skel->progs.on_dup3_enter, watch_releases, "sys_enter_dup3");
    bpf_program__set_autoload(skel->progs.on_sys_exit, !classic && watch_accepts);
    bpf_program__set_autoload(skel->progs.on_sys_enter, !classic && watch_releases);
    if (g_libbpf_verbosity > 0 && (watch_accepts || watch_releases)) {
        if (classic)
            std::fprintf(stderr, "tcpleak: syscall hooks: syscalls:* tracepoints\n");
        else
            std::fprintf(stderr, "tcpleak: syscall hooks: tp_btf sys_enter/sys_exit, which run for every syscall (%s)\n",
                         tracefs.unavailable_reason().empty() ? "no syscalls:* events in tracefs"
                                                              : tracefs.unavailable_reason().c_str());
    }
}

// sched_prepare_exec (6.10+) runs before exec() closes O_CLOEXEC descriptors.
bool kernel_has_prepare_exec() { return libbpf_find_vmlinux_btf_id("sched_prepare_exec", BPF_TRACE_RAW_TP) > 0; }

// Returns whether exec() releases are watched.
bool choose_programs(tcpleak_bpf* skel, const BpfConfig& config, const TracefsAccess& tracefs) {
    const bool hooks = config.transitions && config.syscall_hooks;
    const bool watch_releases = config.watches_releases() && hooks;
    // accept(): trace attributes with it, leaks and run remember owners with
    // it, owner filters select with it.
    const bool watch_accepts = (config.tracks_owners() || config.kernel_owners() || config.selects_owners()) && hooks;
    choose_syscall_hooks(skel, watch_accepts, watch_releases, tracefs);
    bpf_program__set_autoload(skel->progs.on_inet_sock_set_state, config.transitions);
    bpf_program__set_autoload(skel->progs.on_process_fork, config.follow_forks && config.transitions);
    bpf_program__set_autoload(skel->progs.on_process_exec, config.follow_forks && config.transitions);
    bpf_program__set_autoload(skel->progs.on_process_exit, (config.follow_forks && config.transitions) || watch_releases);
    const bool watch_exec = watch_releases && kernel_has_prepare_exec();
    bpf_program__set_autoload(skel->progs.on_prepare_exec, watch_exec);
    skel->rodata->cfg_watch_exec = watch_exec;
    // Maps a mode does not use are kept minimal: their memory is charged at load.
    if (!watch_releases)
        bpf_map__set_max_entries(skel->maps.fd_releases, 1);
    if (!config.kernel_owners())
        bpf_map__set_max_entries(skel->maps.owners, 1);
    if (!config.tracks_owners())
        bpf_map__set_max_entries(skel->maps.listener_sockets, 1);
    if (!config.selects_owners()) {
        bpf_map__set_max_entries(skel->maps.selected_pids, 1);
        bpf_map__set_max_entries(skel->maps.selected_sockets, 1);
        bpf_map__set_max_entries(skel->maps.selected_listeners, 1);
    }
    return watch_exec;
}

// The per-CPU counters map's values, one per possible CPU; empty when it
// cannot be read.
std::vector<tl_cpu_counters> read_cpu_counters(const bpf_map* counters) {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<tl_cpu_counters> per_cpu(cpus > 0 ? cpus : 1);
    const __u32 zero = 0;
    if (bpf_map__lookup_elem(counters, &zero, sizeof(zero), per_cpu.data(), per_cpu.size() * sizeof(tl_cpu_counters),
                             0) != 0)
        return {};
    return per_cpu;
}

// Runs the kernel skipped because the program was already running on that
// CPU (a softirq interrupting it): records never produced.
std::uint64_t recursion_misses(bpf_object* object) {
    std::uint64_t misses = 0;
    bpf_program* program = nullptr;
    bpf_object__for_each_program(program, object) {
        const int fd = bpf_program__fd(program);
        bpf_prog_info info{};
        __u32 length = sizeof(info);
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &length) == 0)
            misses += info.recursion_misses;
    }
    return misses;
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

    // Reachable until everything is attached; then back home (or an error).
    TracefsAccess tracefs;
    configure_syscalls(skel);
    configure_filters(skel, config);
    sees_exec_releases_ = choose_programs(skel, config, tracefs);
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
    tracefs.leave();
}

BpfSession::~BpfSession() = default;

int BpfSession::ring_buffer_fd() const { return bpf_map__fd(skeleton_->maps.events); }

void BpfSession::select_pid(std::uint32_t pid) {
    const __u8 yes = 1;
    if (bpf_map__update_elem(skeleton_->maps.selected_pids, &pid, sizeof(pid), &yes, sizeof(yes), BPF_ANY))
        throw UserError("cannot select pid " + std::to_string(pid) + ": " + errno_text(errno));
}

KernelCounters BpfSession::read_counters() const {
    const std::vector<tl_cpu_counters> per_cpu = read_cpu_counters(skeleton_->maps.counters);
    KernelCounters counters;
    for (const tl_cpu_counters& cpu : per_cpu)
        for (std::size_t i = 0; i < TL_CNT_MAX; ++i)
            counters.counts[i] += cpu.values[i];
    counters.recursion_misses = recursion_misses(skeleton_->obj); // programs stay loaded after detach()
    return counters;
}

std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> BpfSession::read_transition_counts() const {
    std::array<std::uint64_t, 256> totals{};
    for (const tl_cpu_counters& cpu : read_cpu_counters(skeleton_->maps.counters))
        for (std::size_t i = 0; i < totals.size(); ++i)
            totals[i] += cpu.transitions[i];
    std::map<std::pair<std::uint8_t, std::uint8_t>, std::uint64_t> counts;
    for (std::size_t i = 0; i < totals.size(); ++i)
        if (totals[i])
            counts[{static_cast<std::uint8_t>(i >> 4), static_cast<std::uint8_t>(i & 15)}] = totals[i];
    return counts;
}

std::uint64_t BpfSession::map_memory_bytes() const { return map_memory_bytes_; }

namespace {

// Reads an iterator to the end into records of one size, decoded by
// `decode`: the kernel writes whole records, but a read() may end inside
// one.
template <typename Value>
std::vector<Value> read_records(int iter_fd, std::size_t record_size) {
    std::vector<Value> values;
    std::vector<std::byte> buffer(64 * record_size);
    std::size_t filled = 0;
    for (;;) {
        const ssize_t n = read(iter_fd, buffer.data() + filled, buffer.size() - filled);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw UserError("reading a BPF iterator failed: " + errno_text(errno));
        if (n == 0)
            break;
        filled += static_cast<std::size_t>(n);
        std::size_t used = 0;
        for (; filled - used >= record_size; used += record_size) {
            Value value;
            if (decode(std::span(buffer).subspan(used, record_size), value))
                values.push_back(value);
        }
        std::memmove(buffer.data(), buffer.data() + used, filled - used);
        filled -= used;
    }
    return values;
}

// An iterator of link, its fd closed on the way out.
UniqueFd create_iterator(bpf_link* link, const char* what) {
    if (link == nullptr)
        throw UserError(std::string("cannot read ") + what + ": the BPF iterator is not attached");
    UniqueFd fd(bpf_iter_create(bpf_link__fd(link)));
    if (!fd)
        throw UserError(std::string("cannot read ") + what + ": " + errno_text(errno));
    return fd;
}

// This thread in another network namespace for its lifetime (an iterator
// of the TCP table walks the namespace it was created in), then back.

} // namespace

std::optional<SocketOwner> BpfSession::remembered_owner(std::uint64_t cookie) const {
    tl_owner owner{};
    if (bpf_map__lookup_elem(skeleton_->maps.owners, &cookie, sizeof(cookie), &owner, sizeof(owner), 0) != 0)
        return std::nullopt;
    SocketOwner result;
    result.pid = owner.pid;
    std::memcpy(result.comm.data(), owner.comm, result.comm.size());
    return result;
}

std::vector<SocketHolder> BpfSession::seed_existing_sockets() { return read_descriptor_tables(TL_ITER_SEED); }

std::vector<SocketHolder> BpfSession::holders_in_states(std::uint32_t states) {
    return read_descriptor_tables(TL_ITER_STATES, states);
}

std::vector<SocketHolder> BpfSession::read_descriptor_tables(std::uint8_t mode, std::uint32_t states) {
    skeleton_->data->iter_mode = mode;
    skeleton_->data->iter_states = states;
    const UniqueFd iterator = create_iterator(skeleton_->links.iter_socket_holders, "descriptor tables");
    return read_records<SocketHolder>(iterator.get(), socket_record_size());
}

std::vector<TcpSocket> BpfSession::tcp_table(std::uint32_t states, int netns_fd) {
    skeleton_->bss->tcp_iter_states = states;
    UniqueFd iterator;
    {
        const InNetworkNamespace in(netns_fd);
        iterator = create_iterator(skeleton_->links.iter_tcp_sockets, "the TCP socket table");
    }
    return read_records<TcpSocket>(iterator.get(), tcp_socket_record_size());
}

void BpfSession::name_sockets(int netns_fd) {
    constexpr std::uint32_t kNoState = 1U; // bit 0: no TCP state is 0
    tcp_table(kNoState, netns_fd);
}

// Every link but the iterators': they produce no events, and the stop path
// still reads the descriptor tables (the holders of sockets due at that
// moment) and, when events were lost up to the detach, the TCP socket table
// (a reconciliation's tracked sockets no descriptor holds any more).
void BpfSession::detach() {
    if (!attached_)
        return;
    const bpf_object_skeleton* skeleton = skeleton_->skeleton;
    for (int i = 0; i < skeleton->prog_cnt; ++i) {
        bpf_link** link = skeleton->progs[i].link;
        const bpf_program* prog = *skeleton->progs[i].prog;
        const bool iterator = prog == skeleton_->progs.iter_socket_holders || prog == skeleton_->progs.iter_tcp_sockets;
        if (*link != nullptr && !iterator) {
            bpf_link__destroy(*link);
            *link = nullptr;
        }
    }
    attached_ = false;
}

} // namespace tcpleak
