#include "tcpleak/metrics/exposition_writer.hpp"

#include "tcpleak/metrics/names.hpp"
#include "tcpleak/metrics/number_format.hpp"
#include "tcpleak/metrics/text_escape.hpp"

#include <algorithm>
#include <stdexcept>

namespace tcpleak::metrics {

namespace {

void require_label_names(Labels labels, bool le_reserved) {
    for (auto label = labels.begin(); label != labels.end(); ++label) {
        require_label_name(label->name);
        if (le_reserved && label->name == "le")
            throw std::invalid_argument("label name \"le\" is reserved for histogram buckets");
        for (auto earlier = labels.begin(); earlier != label; ++earlier) // a handful of labels
            if (earlier->name == label->name)
                throw std::invalid_argument("label \"" + std::string(label->name) + "\" given twice");
    }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append("=\"");
    append_label_value(out, value);
    out.push_back('"');
}

} // namespace

std::string_view type_name(MetricType type) {
    switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
    case MetricType::untyped: return "untyped";
    }
    return "untyped";
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help) {
    require_metric_name(name);
    if (std::find(families_written_.begin(), families_written_.end(), name) != families_written_.end())
        throw std::logic_error("metric family \"" + std::string(name) + "\" written twice");
    families_written_.emplace_back(name);
    family_name_.assign(name);
    family_type_ = type;
    in_family_ = true;

    out_.append("# HELP ").append(name).push_back(' ');
    append_help_text(out_, help);
    out_.append("\n# TYPE ").append(name).push_back(' ');
    out_.append(type_name(type)).push_back('\n');
}

void ExpositionWriter::require_family(bool histogram) const {
    if (!in_family_)
        throw std::logic_error("metric sample written before any family");
    if (histogram != (family_type_ == MetricType::histogram))
        throw std::logic_error("metric family \"" + family_name_ + "\" is a " +
                               std::string(type_name(family_type_)) +
                               (histogram ? ": no histogram there" : ": write it with histogram()"));
}

void ExpositionWriter::begin_series(std::string_view suffix, Labels labels, std::string_view le) {
    out_.append(family_name_).append(suffix);
    if (labels.empty() && le.empty()) {
        out_.push_back(' ');
        return;
    }
    char separator = '{';
    for (const Label& label : labels) {
        out_.push_back(separator);
        append_label(out_, label.name, label.value);
        separator = ',';
    }
    if (!le.empty()) {
        out_.push_back(separator);
        append_label(out_, "le", le);
    }
    out_.append("} ");
}

void ExpositionWriter::begin_sample(Labels labels) {
    require_family(false);
    require_label_names(labels, false);
    begin_series({}, labels);
}

void ExpositionWriter::sample(Labels labels, double value) {
    begin_sample(labels);
    append_value(out_, value);
    out_.push_back('\n');
}

void ExpositionWriter::sample_integer(Labels labels, std::int64_t value) {
    begin_sample(labels);
    append_value(out_, value);
    out_.push_back('\n');
}

void ExpositionWriter::sample_integer(Labels labels, std::uint64_t value) {
    begin_sample(labels);
    append_value(out_, value);
    out_.push_back('\n');
}

void ExpositionWriter::histogram(Labels labels, const Histogram& histogram) {
    require_family(true);
    require_label_names(labels, true);
    const auto bounds = histogram.upper_bounds();
    const auto counts = histogram.bucket_counts();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts[i];
        le_scratch_.clear();
        append_value(le_scratch_, bounds[i]);
        begin_series("_bucket", labels, le_scratch_);
        append_value(out_, cumulative);
        out_.push_back('\n');
    }
    begin_series("_bucket", labels, "+Inf");
    append_value(out_, histogram.count());
    out_.append("\n");
    begin_series("_sum", labels);
    append_value(out_, histogram.sum());
    out_.push_back('\n');
    begin_series("_count", labels);
    append_value(out_, histogram.count());
    out_.push_back('\n');
}

} // namespace tcpleak::metrics
