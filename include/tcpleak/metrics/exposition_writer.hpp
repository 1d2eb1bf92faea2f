// Streaming writer of the Prometheus text exposition format 0.0.4, appending
// into a caller-owned string (reuse it across scrapes: no allocation once it
// has grown):
//
//   std::string out;
//   ExpositionWriter w(out);
//   w.family("tcpleak_events_lost_total", MetricType::counter, "Events the ring buffer dropped.");
//   w.sample({}, lost);
//   w.family("tcpleak_sockets", MetricType::gauge, "TCP sockets by state and owner.");
//   w.sample({{"state", "CLOSE_WAIT"}, {"comm", comm}}, 3);
//
// Names and label names are the programmer's (std::invalid_argument when
// invalid, see names.hpp; std::logic_error when a call does not fit the
// current family). Label values and HELP text may be any bytes: they are
// escaped and sanitized (text_escape.hpp). The caller keeps each label set
// unique within a family; SeriesStore does that for labelled series.
#pragma once

#include "tcpleak/metrics/histogram.hpp"

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak::metrics {

enum class MetricType { counter, gauge, histogram, untyped };

std::string_view type_name(MetricType type);

struct Label {
    std::string_view name;
    std::string_view value;
};

// A view of label pairs, from a braced list or from a span. Like
// std::string_view it does not own them: pass it straight to a call.
class Labels {
public:
    Labels() = default;
    Labels(std::initializer_list<Label> labels) : labels_(labels.begin(), labels.size()) {}
    Labels(std::span<const Label> labels) : labels_(labels) {}

    auto begin() const { return labels_.begin(); }
    auto end() const { return labels_.end(); }
    bool empty() const { return labels_.empty(); }

private:
    std::span<const Label> labels_;
};

class ExpositionWriter {
public:
    explicit ExpositionWriter(std::string& out) : out_(out) {}

    // "# HELP name help" and "# TYPE name type"; the samples that follow
    // belong to this family. A family may be written once per exposition.
    void family(std::string_view name, MetricType type, std::string_view help);

    // One sample of the current counter, gauge or untyped family, named
    // after it (counters in format 0.0.4 carry their _total in the family
    // name). Integers are written exactly.
    void sample(Labels labels, double value);
    template <std::integral T>
    void sample(Labels labels, T value) {
        if constexpr (std::is_signed_v<T>)
            sample_integer(labels, static_cast<std::int64_t>(value));
        else
            sample_integer(labels, static_cast<std::uint64_t>(value));
    }

    // The series of one histogram of the current histogram family:
    // name_bucket{...,le="bound"} (cumulative, ending with le="+Inf"),
    // name_sum and name_count. "le" is reserved for the buckets.
    void histogram(Labels labels, const Histogram& histogram);

private:
    void sample_integer(Labels labels, std::int64_t value);
    void sample_integer(Labels labels, std::uint64_t value);
    void begin_sample(Labels labels);
    void begin_series(std::string_view suffix, Labels labels, std::string_view le = {});
    void require_family(bool histogram) const;

    std::string& out_;
    std::string family_name_;
    MetricType family_type_ = MetricType::untyped;
    bool in_family_ = false;
    std::vector<std::string> families_written_; // a dozen or so: a vector is enough
    std::string le_scratch_;
};

} // namespace tcpleak::metrics
