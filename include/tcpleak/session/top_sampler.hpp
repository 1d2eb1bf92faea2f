// One census per interval for `tcpleak top`: the kernel's tables read
// (CensusReader), joined, turned into a ranked snapshot (core/top.hpp) with
// the sysctls of every namespace that has unheld sockets.
#pragma once

#include "tcpleak/core/top.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/output/top_output.hpp"
#include "tcpleak/session/census_reader.hpp"
#include "tcpleak/session/socket_scanner.hpp"

#include <cstdint>

namespace tcpleak {

struct TopSample {
    TopSnapshot snapshot;
    TopScan scan;
};

class TopSampler {
public:
    // label_of: a process's container (only read with TopGrouping::Container).
    TopSampler(BpfSession& session, TopModel model, LabelOf label_of);
    TopSample sample();

private:
    CensusReader reader_;
    KernelScanner sysctls_; // reads a namespace's /proc/sys/net from inside it
    TopModel model_;
    LabelOf label_of_;
};

} // namespace tcpleak
