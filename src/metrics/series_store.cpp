#include "tcpleak/metrics/series_store.hpp"

#include "tcpleak/metrics/names.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tcpleak::metrics {

namespace {

template <typename A, typename B>
bool lexicographically_less(const A& a, const B& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](std::string_view x, std::string_view y) { return x < y; });
}

// At most limit bytes, not ending inside a UTF-8 sequence (a cut there would
// only turn into U+FFFD when written).
std::string_view cut_value(std::string_view value, std::size_t limit) {
    if (value.size() <= limit)
        return value;
    std::size_t end = limit;
    for (int step = 0; step < 3 && end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80; ++step)
        --end;
    return value.substr(0, end);
}

} // namespace

bool SeriesStore::KeyLess::operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
    return lexicographically_less(a, b);
}
bool SeriesStore::KeyLess::operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const {
    return lexicographically_less(a, b);
}
bool SeriesStore::KeyLess::operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const {
    return lexicographically_less(a, b);
}

SeriesStore::SeriesStore(std::string name, MetricType type, std::string help, std::vector<std::string> label_names,
                         SeriesLimits limits)
    : name_(std::move(name)), type_(type), help_(std::move(help)), label_names_(std::move(label_names)),
      limits_(limits), overflow_key_(label_names_.size(), std::string(kOverflowValue)) {
    require_metric_name(name_);
    if (type_ != MetricType::counter && type_ != MetricType::gauge)
        throw std::invalid_argument("series store \"" + name_ + "\" must be a counter or a gauge");
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
        require_label_name(label_names_[i]);
        if (std::find(label_names_.begin(), label_names_.begin() + i, label_names_[i]) != label_names_.begin() + i)
            throw std::invalid_argument("label \"" + label_names_[i] + "\" given twice");
    }
}

void SeriesStore::require_type(MetricType type, const char* operation) const {
    if (type_ != type)
        throw std::logic_error(std::string(operation) + " on \"" + name_ + "\", which is a " +
                               std::string(type_name(type_)));
}

std::span<const std::string_view> SeriesStore::cut(LabelValues values,
                                                   std::vector<std::string_view>& scratch) const {
    if (values.span().size() != label_names_.size())
        throw std::invalid_argument("\"" + name_ + "\" takes " + std::to_string(label_names_.size()) +
                                    " label values, not " + std::to_string(values.span().size()));
    scratch.clear();
    for (std::string_view value : values.span())
        scratch.push_back(cut_value(value, limits_.max_label_value_bytes));
    return scratch;
}

bool SeriesStore::is_full() const {
    const std::size_t regular = series_.size() - (series_.contains(overflow_key_) ? 1 : 0);
    return regular >= limits_.max_series;
}

SeriesStore::Slot SeriesStore::find_or_fold(LabelValues values) {
    const auto key = cut(values, scratch_);
    if (const auto it = series_.find(key); it != series_.end())
        return {it->second, false};
    if (is_full()) {
        ++overflowed_updates_;
        const auto [it, created] = series_.try_emplace(overflow_key_, 0.0);
        return {it->second, created};
    }
    const auto it = series_.emplace(std::vector<std::string>(key.begin(), key.end()), 0.0).first;
    return {it->second, true};
}

void SeriesStore::add(LabelValues values, double delta) {
    if (type_ == MetricType::counter && !(delta >= 0))
        throw std::invalid_argument("counter \"" + name_ + "\" can only go up");
    find_or_fold(values).value += delta;
}

void SeriesStore::set_max(LabelValues values, double value) {
    require_type(MetricType::gauge, "set_max");
    const Slot slot = find_or_fold(values);
    if (slot.created || value > slot.value)
        slot.value = value;
}

void SeriesStore::clear() {
    require_type(MetricType::gauge, "clear");
    series_.clear();
}

void SeriesStore::write(ExpositionWriter& writer) const {
    writer.family(name_, type_, help_);
    std::vector<Label> labels(label_names_.size());
    for (const auto& [values, value] : series_) {
        for (std::size_t i = 0; i < labels.size(); ++i)
            labels[i] = {label_names_[i], values[i]};
        writer.sample(Labels(std::span<const Label>(labels)), value);
    }
}

std::optional<double> SeriesStore::value(LabelValues values) const {
    std::vector<std::string_view> scratch;
    const auto key = cut(values, scratch);
    if (const auto it = series_.find(key); it != series_.end())
        return it->second;
    if (const auto it = series_.find(overflow_key_); it != series_.end() && is_full())
        return it->second;
    return std::nullopt;
}

} // namespace tcpleak::metrics
