#include "tcpleak/session/top_sampler.hpp"

#include <utility>

namespace tcpleak {

TopSampler::TopSampler(BpfSession& session, TopModel model, LabelOf label_of)
    : reader_(session), sysctls_(session), model_(std::move(model)), label_of_(std::move(label_of)) {}

TopSample TopSampler::sample() {
    CensusInput input = reader_.read();
    TopSample sample;
    sample.scan.took_ns = input.took_ns;
    sample.scan.sockets = input.sockets.size();
    sample.scan.holders = input.holders.size();
    sample.scan.namespaces_walked = input.namespaces_walked;
    sample.scan.namespaces_unreachable = input.namespaces_unreachable;
    Census census = take_census(input.sockets, input.holders, input.read_ns);
    // Read every interval, not cached: an operator tuning tcp_max_tw_buckets
    // while watching top sees the new limit at the next census.
    const LimitsOf limits_of = [this](std::uint32_t netns) { return sysctls_.tcp_sysctls(netns); };
    sample.snapshot = model_.update(std::move(census), label_of_, limits_of);
    return sample;
}

} // namespace tcpleak
