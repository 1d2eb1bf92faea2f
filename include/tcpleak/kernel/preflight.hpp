// Checks made before touching BPF, so that a missing capability, a kernel
// without BTF or a wrong pid gets one clear line instead of a libbpf dump.
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

namespace tcpleak {

inline constexpr std::string_view kKernelBtfPath = "/sys/kernel/btf/vmlinux";

// Capability numbers from linux/capability.h (CAP_BPF/CAP_PERFMON: 5.8+).
inline constexpr int kCapSysChroot = 18;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapPerfmon = 38;
inline constexpr int kCapBpf = 39;

// Names of the capabilities tcpleak needs but lacks, given the effective set
// (bit i = capability i). CAP_SYS_ADMIN alone also suffices.
std::vector<std::string> missing_capabilities(std::uint64_t effective);
std::uint64_t effective_capabilities(); // of this process

// Throws UserError (exit 1) when the kernel has no BTF at btf_path or the
// process lacks privileges; command names the subcommand for the sudo hint.
void require_bpf_environment(std::string_view command, std::string_view btf_path = kKernelBtfPath);

bool kernel_has_btf(std::string_view btf_path);
bool process_exists(std::uint32_t pid);

// The process (thread group) a pid belongs to, from /proc; nullopt if gone.
std::optional<std::uint32_t> thread_group_of(std::uint32_t pid);

// Throws UserError (exit 1) naming the first pid that does not exist or is
// a thread of another process.
void require_processes_exist(const std::vector<std::uint32_t>& pids);

} // namespace tcpleak
