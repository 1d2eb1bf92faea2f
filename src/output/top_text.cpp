// `tcpleak top` for people: a header with the time, the totals and the
// interval, then one line per process (or container) and one per kind of
// unheld socket per network namespace, in fixed columns. On a terminal the
// screen is cleared and redrawn each time, cut to its height like top;
// otherwise each census is appended, a blank line apart.
//
// The name (COMM, container label) is the last column: its bytes come from
// the process or whoever named the cgroup, its width is unbounded once
// escaped, and at the end of the line it cannot push the numbers apart.
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/top_output.hpp"
#include "tcpleak/sys/clock.hpp"

#include <array>
#include <string_view>

namespace tcpleak {

namespace {

constexpr std::size_t kKeyWidth = 9;   // PID, PROCS, or the unheld kind
constexpr std::string_view kLimitsIndent = "           "; // under the state columns
constexpr std::size_t kCountWidth = 7; // one state
constexpr std::size_t kRateWidth = 8;  // NEW/s, CW/MIN
constexpr std::size_t kAgeWidth = 10;  // OLDEST_CW
constexpr std::string_view kClearScreen = "\x1b[H\x1b[2J"; // cursor home, erase the screen

// Short names, so that the nine states fit beside the rest in 130 columns;
// docs and --help spell them out.
constexpr std::array<std::string_view, 9> kStateHeadings = {"SYN_S",  "SYN_R",  "ESTAB", "C_WAIT", "FIN_W1",
                                                            "FIN_W2", "L_ACK", "CLOSNG", "T_WAIT"};
static_assert(kStateHeadings.size() == kTopStates.size());

void append_right(std::string& out, std::string_view cell, std::size_t width) {
    out.append(cell.size() < width ? width - cell.size() : 1, ' ');
    out.append(cell);
}

void append_right_number(std::string& out, std::uint64_t n, std::size_t width) {
    std::string cell;
    append_decimal(cell, n);
    append_right(out, cell, width);
}

// The nine states, then every socket (LISTEN and CLOSE too: a listener is
// in no state column).
void append_state_cells(std::string& out, const StateCounts& counts) {
    for (const std::uint8_t state : kTopStates)
        append_right_number(out, top_column(counts, state), kCountWidth);
    append_right_number(out, counts.total(), kCountWidth);
}

std::string rate_cell(double per_unit, bool known, bool signed_rate) {
    if (!known)
        return "-";
    std::string cell;
    if (signed_rate && per_unit > 0)
        cell.push_back('+');
    append_fixed(cell, per_unit, 1);
    return cell;
}

std::string age_cell(const std::optional<std::uint64_t>& age_ns) {
    if (!age_ns)
        return "-";
    std::string cell;
    append_age(cell, *age_ns, true); // ">=": a lower bound (top.hpp, TopRow)
    return cell;
}

void append_heading(std::string& out, TopGrouping by) {
    append_right(out, by == TopGrouping::Container ? "PROCS" : "PID", kKeyWidth);
    for (const std::string_view heading : kStateHeadings)
        append_right(out, heading, kCountWidth);
    append_right(out, "TOTAL", kCountWidth);
    append_right(out, "NEW/s", kRateWidth);
    append_right(out, "CW/MIN", kRateWidth);
    append_right(out, "OLDEST_CW", kAgeWidth);
    out.append(by == TopGrouping::Container ? "  CONTAINER (lowest PID COMM)\n" : "  COMM\n");
}

void append_row(std::string& out, const TopRow& row, TopGrouping by, bool rates_known) {
    append_right_number(out, by == TopGrouping::Container ? row.processes : row.pid, kKeyWidth);
    append_state_cells(out, row.sockets);
    append_right(out, rate_cell(row.new_per_second, rates_known, false), kRateWidth);
    append_right(out, rate_cell(row.close_wait_growth.per_minute(), row.close_wait_growth.over_ns > 0, true),
                 kRateWidth);
    append_right(out, age_cell(row.oldest_close_wait_ns), kAgeWidth);
    out.append("  ");
    if (by == TopGrouping::Container) {
        append_printable(out, row.container.empty() ? std::string_view("(host)") : std::string_view(row.container));
        out.append(" (");
        append_pid_comm(out, row.pid, row.comm);
        out.push_back(')');
    } else {
        append_printable(out, comm_view(row.comm));
    }
    out.push_back('\n');
}

// The sysctls that decide how many of them there may be and how long they
// stay, on a line of their own (they would not fit beside the counts).
void append_limits(std::string& out, const TopUnheldRow& row) {
    out.append(kLimitsIndent);
    if (row.kind == UnheldKind::NotAccepted) {
        out.append("in a listener's accept queue: its backlog bounds them");
        return;
    }
    if (row.kind == UnheldKind::NoDescriptor) {
        out.append("a file no descriptor table holds: in flight over a unix socket, io_uring, the kernel's");
        return;
    }
    if (!row.limits) {
        out.append("limits unknown: the namespace could not be entered");
        return;
    }
    std::string_view separator = "";
    for (const GoverningSysctl& sysctl : governing_sysctls(row.kind)) {
        out.append(separator);
        separator = ", ";
        out.append(sysctl.name);
        out.push_back(' ');
        if (const std::optional<std::uint32_t>& value = (*row.limits).*sysctl.value) {
            append_decimal(out, *value);
            out.append(sysctl.unit);
        } else {
            out.push_back('?');
        }
    }
    if (row.kind == UnheldKind::Orphaned)
        out.append(" (tcp_max_orphans: host-wide)");
}

// Two lines: the counts, then the limits.
constexpr std::size_t kLinesPerUnheldRow = 2;

void append_unheld_row(std::string& out, const TopUnheldRow& row) {
    append_right(out, unheld_kind_label(row.kind), kKeyWidth);
    append_state_cells(out, row.sockets);
    out.append("  netns ");
    append_decimal(out, row.netns);
    out.push_back('\n');
    append_limits(out, row);
    out.push_back('\n');
}

class TextTopOutput final : public TopOutput {
public:
    TextTopOutput(OutputBuffer& out, bool redraw, std::function<std::size_t()> screen_rows)
        : out_(out), redraw_(redraw), screen_rows_(std::move(screen_rows)) {}

    void start(const TopStart& start) override {
        interval_ns_ = start.interval_ns;
        if (!redraw_)
            return; // the first census follows at once; a terminal shows it in place
        out_.buffer().append(kClearScreen);
        out_.buffer().append("tcpleak top: reading the first census...\n");
    }

    void snapshot(const TopSnapshot& snap, std::int64_t unix_ns, const TopScan& scan) override {
        std::string& out = out_.buffer();
        out.append(redraw_ ? kClearScreen : (first_ ? "" : "\n"));
        first_ = false;
        append_header(out, snap, unix_ns, scan);
        append_rows(out, snap);
        if (!snap.unheld.empty())
            append_unheld(out, snap);
        out_.maybe_flush();
    }

    void summary(const TopSummary& summary) override {
        if (redraw_)
            return; // the last screen stays as it is
        std::string& out = out_.buffer();
        out.append("\ntcpleak top: ");
        append_plural(out, summary.snapshots, "census", "censuses");
        out.append(" in ");
        append_duration_short(out, elapsed_ns(summary.start_unix_ns, summary.end_unix_ns));
        out.append("; scans took ");
        append_duration_short(out, summary.snapshots ? summary.scan_ns_total / summary.snapshots : 0);
        out.append(" on average, at most ");
        append_duration_short(out, summary.scan_ns_max);
        out.push_back('\n');
    }

private:
    void append_header(std::string& out, const TopSnapshot& snap, std::int64_t unix_ns, const TopScan& scan) {
        out.append("tcpleak top  ");
        local_time_.append(out, unix_ns);
        out.append("  every ");
        append_threshold(out, interval_ns_);
        out.append(", CLOSE_WAIT growth over ");
        append_threshold(out, snap.growth_window_ns);
        out.append(snap.by == TopGrouping::Container ? ", by container\n" : ", by process\n");
        append_plural(out, snap.all.total(), "socket", "sockets");
        out.append(", ");
        append_plural(out, snap.processes, "process", "processes");
        out.append(" holding some, ");
        append_decimal(out, snap.growing);
        out.append(" with CLOSE_WAIT growing; new ");
        out.append(rate_cell(snap.new_per_second, snap.interval_ns > 0, false));
        out.append("/s; orphans ");
        append_decimal(out, snap.orphans);
        out.append(", TIME_WAIT ");
        append_decimal(out, snap.time_wait);
        out.append("; scan ");
        append_duration_short(out, scan.took_ns);
        out.append("\n\n");
    }

    // The heading, the host's totals, and the rows that fit.
    void append_rows(std::string& out, const TopSnapshot& snap) const {
        append_heading(out, snap.by);
        append_right(out, "all", kKeyWidth);
        append_state_cells(out, snap.all);
        out.append("  (every socket of the host)\n");
        const std::size_t other_lines =
            5 + (snap.unheld.empty() ? 0 : 2 + kLinesPerUnheldRow * snap.unheld.size());
        const std::size_t shown = rows_that_fit(snap.rows.size(), other_lines);
        for (std::size_t i = 0; i < shown; ++i)
            append_row(out, snap.rows[i], snap.by, snap.interval_ns > 0);
        if (shown == snap.rows.size())
            return;
        std::string more;
        append_plural(more, snap.rows.size() - shown, "more row", "more rows");
        append_right(out, more, kKeyWidth);
        out.append(" (a taller terminal, -p/-c, or --json shows them)\n");
    }

    void append_unheld(std::string& out, const TopSnapshot& snap) {
        out.append("\nheld by no process, per network namespace, with the sysctls that limit them:\n");
        for (const TopUnheldRow& row : snap.unheld)
            append_unheld_row(out, row);
    }

    // On a terminal: as many rows as leave room for the rest (one line for
    // "N more rows"), at least one. The last line of the screen stays empty:
    // a newline there would scroll the header away.
    std::size_t rows_that_fit(std::size_t rows, std::size_t other_lines) const {
        const std::size_t screen = redraw_ && screen_rows_ ? screen_rows_() : 0;
        if (screen == 0 || rows + other_lines < screen)
            return rows;
        return screen > other_lines + 2 ? screen - other_lines - 2 : 1;
    }

    OutputBuffer& out_;
    bool redraw_;
    std::function<std::size_t()> screen_rows_;
    LocalTimeClock local_time_;
    std::uint64_t interval_ns_ = 0;
    bool first_ = true;
};

} // namespace

std::string_view unheld_kind_label(UnheldKind kind) {
    switch (kind) {
    case UnheldKind::Orphaned: return "orphaned";
    case UnheldKind::TimeWait: return "time-wait";
    case UnheldKind::Request: return "request";
    case UnheldKind::NotAccepted: return "queued";
    case UnheldKind::NoDescriptor: return "no-fd";
    }
    return "unknown";
}

std::unique_ptr<TopOutput> make_text_top_output(OutputBuffer& out, bool redraw,
                                                std::function<std::size_t()> screen_rows) {
    return std::make_unique<TextTopOutput>(out, redraw, std::move(screen_rows));
}

} // namespace tcpleak
