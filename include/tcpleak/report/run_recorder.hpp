// `tcpleak run`'s output of the leak stream: it announces each leak on
// standard error as it happens (unless --quiet) and keeps what the report
// needs, the traced process tree and every leak and resolution.
#pragma once

#include "tcpleak/core/leak_events.hpp"
#include "tcpleak/output/output_buffer.hpp"
#include "tcpleak/report/run_report.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tcpleak {

class RunRecorder final : public LeakEvents {
public:
    RunRecorder(OutputBuffer& err, bool quiet) : err_(err), quiet_(quiet) {}

    // COMMAND itself, forked by parent_pid (tcpleak's keeper), started at mono_ns.
    void add_command(std::uint32_t pid, std::uint32_t parent_pid, const std::vector<std::string>& command,
                     std::uint64_t mono_ns);
    bool in_tree(std::uint32_t pid) const { return processes_.contains(pid); }

    void leak(const Leak& leak) override;
    void resolved(const LeakResolved& resolved) override { resolved_.push_back(resolved); }
    void process(const ProcEvent& event) override;
    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) override;
    void reconciled(const ReconcileNotice& notice) override;

    // The processes (COMMAND first, then in fork order), leaks and resolutions.
    void fill(RunReport& report) const;

private:
    TracedProcess& process(std::uint32_t pid);

    OutputBuffer& err_;
    bool quiet_;
    std::map<std::uint32_t, TracedProcess> processes_;
    std::vector<std::uint32_t> order_;
    std::vector<Leak> leaks_;
    std::vector<LeakResolved> resolved_;
};

} // namespace tcpleak
