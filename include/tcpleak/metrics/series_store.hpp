// The labelled series of one counter or gauge family, with bounded
// cardinality. Label values such as comm are chosen by whoever starts a
// process, so an attacker could mint a new series per process name and grow
// the agent's memory and every scrape without limit. A store therefore keeps
// at most max_series label sets; an update for a new label set past that is
// folded into one overflow series whose label values are all kOverflowValue
// (a store holds at most max_series + 1 series), and counted in
// overflowed_updates(), which the agent exports, e.g. as
// tcpleak_metrics_overflowed_updates_total{family="..."}.
//
// Label sets already stored keep their own series: first come, first kept.
// A genuine label set equal to the overflow one (a process that names itself
// "__other__" everywhere) merges into it; it never makes a duplicate series.
// Values longer than max_label_value_bytes are cut (at a UTF-8 boundary) so
// that memory is bounded too.
//
// Series are written sorted by label values, so output is deterministic.
// Values are doubles: counts are exact up to 2^53.
#pragma once

#include "tcpleak/metrics/exposition_writer.hpp"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak::metrics {

// Label values in the order of the store's label names: a view, like Labels.
class LabelValues {
public:
    LabelValues(std::initializer_list<std::string_view> values) : values_(values.begin(), values.size()) {}
    LabelValues(std::span<const std::string_view> values) : values_(values) {}
    std::span<const std::string_view> span() const { return values_; }

private:
    std::span<const std::string_view> values_;
};

struct SeriesLimits {
    std::size_t max_series = 1000;
    std::size_t max_label_value_bytes = 128;
};

class SeriesStore {
public:
    static constexpr std::string_view kOverflowValue = "__other__";

    // type: counter or gauge. Throws std::invalid_argument for a bad name,
    // label name or type.
    SeriesStore(std::string name, MetricType type, std::string help, std::vector<std::string> label_names,
                SeriesLimits limits = {});

    // Counters and gauges: adds delta (>= 0 and not NaN for a counter,
    // std::invalid_argument otherwise). Overflow series sum what they fold.
    void add(LabelValues values, double delta = 1);
    // Gauges only: value becomes max(value, current) — a new series starts
    // at value. Meant for "oldest" gauges rebuilt after clear(): the
    // overflow series then holds the largest of what it folded.
    void set_max(LabelValues values, double value);
    // Gauges only (a counter never goes back): drops every series, so
    // gauges describing "now" can be rebuilt before each scrape. Keeps
    // overflowed_updates(), which is a running count.
    void clear();

    // # HELP, # TYPE and one sample per series, sorted by label values.
    void write(ExpositionWriter& writer) const;

    const std::string& name() const { return name_; }
    std::size_t size() const { return series_.size(); }
    std::uint64_t overflowed_updates() const { return overflowed_updates_; }
    // The value of the series values map to (after cutting and folding),
    // if it exists. For tests and diagnostics.
    std::optional<double> value(LabelValues values) const;

private:
    struct KeyLess {
        using is_transparent = void;
        bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const;
        bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
        bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const;
    };
    using Series = std::map<std::vector<std::string>, double, KeyLess>;

    struct Slot {
        double& value;
        bool created;
    };
    Slot find_or_fold(LabelValues values);
    std::span<const std::string_view> cut(LabelValues values, std::vector<std::string_view>& scratch) const;
    bool is_full() const;
    void require_type(MetricType type, const char* operation) const;

    std::string name_;
    MetricType type_;
    std::string help_;
    std::vector<std::string> label_names_;
    SeriesLimits limits_;
    std::vector<std::string> overflow_key_;
    Series series_;
    std::uint64_t overflowed_updates_ = 0;
    mutable std::vector<std::string_view> scratch_; // cut label values, reused
};

} // namespace tcpleak::metrics
