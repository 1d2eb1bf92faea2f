// The words every text output shares: durations, addresses, the one leak
// sentence, verdicts, resolutions (report_json.cpp: the JSON members).
#include "tcpleak/output/report_format.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <optional>

namespace tcpleak {


// ---------------------------------------------------------------- text

void append_kernel_line(std::string& out, const KernelCounters& kernel, std::uint64_t bpf_map_bytes) {
    bool any = false;
    for_each_kernel_counter(kernel, [&](std::string_view name, std::uint64_t value) {
        if (value == 0)
            return;
        out.append(any ? " " : "kernel: ");
        out.append(name);
        out.push_back('=');
        append_decimal(out, value);
        any = true;
    });
    out.append(any ? "; BPF maps: " : "BPF maps: ");
    append_bytes_iec(out, bpf_map_bytes);
    out.push_back('\n');
}

void append_threshold(std::string& out, std::uint64_t ns) {
    if (ns != 0 && ns % 1'000'000'000 == 0) {
        append_decimal(out, ns / 1'000'000'000);
        out.push_back('s');
    } else if (ns != 0 && ns % 1'000'000 == 0) {
        append_decimal(out, ns / 1'000'000);
        out.append("ms");
    } else {
        append_duration_short(out, ns);
    }
}

void append_plural(std::string& out, std::uint64_t n, std::string_view one, std::string_view many) {
    append_decimal(out, n);
    out.push_back(' ');
    out.append(n == 1 ? one : many);
}

void append_age(std::string& out, std::uint64_t ns, bool estimate) {
    if (estimate)
        out.append(">=");
    append_duration_short(out, ns);
}

void append_pid_comm(std::string& out, std::uint32_t pid, const Comm& comm) {
    append_decimal(out, pid);
    out.push_back(' ');
    append_printable(out, comm_view(comm));
}

void append_connection(std::string& out, const SocketAddress& a) {
    append_endpoint(out, a.family, a.saddr, a.sport);
    out.append(" -> ");
    append_endpoint(out, a.family, a.daddr, a.dport);
}

void append_fd(std::string& out, const std::optional<std::uint32_t>& fd) {
    if (fd)
        append_decimal(out, *fd);
    else
        out.push_back('-');
}

void append_leaked_socket(std::string& out, const Leak& leak) {
    out.append("pid ");
    append_pid_comm(out, leak.pid, leak.comm);
    out.append(" fd ");
    append_fd(out, leak.fd);
    out.push_back(' ');
    append_connection(out, leak.address);
}

void append_leak_sentence(std::string& out, const Leak& leak, std::uint64_t in_state_ns) {
    if (leak.verdict == Verdict::Orphaned && leak.pid == 0) {
        out.append("orphan ");
        append_connection(out, leak.address);
    } else {
        append_leaked_socket(out, leak);
    }
    out.append(" in ");
    out.append(tcp_state_name(leak.state));
    out.append(leak.since_start ? " for at least " : " for ");
    append_duration_short(out, in_state_ns);
    if (leak.rx_queue > 0) {
        out.append(", ");
        append_plural(out, leak.rx_queue, "byte unread", "bytes unread");
    }
    if (leak.tcp && leak.state != kTcpCloseWait && leak.tcp->tx_queue > 0) {
        // After close() the FIN takes one sequence number of the queue.
        const bool fin_queued = leak.state == kTcpFinWait1 || leak.state == kTcpClosing || leak.state == kTcpLastAck;
        const std::uint32_t data = fin_queued ? leak.tcp->tx_queue - 1 : leak.tcp->tx_queue;
        out.append(", ");
        if (data > 0)
            append_plural(out, data, "byte", "bytes");
        out.append(data > 0 && fin_queued ? " and the FIN" : fin_queued ? "the FIN" : "");
        out.append(" unacknowledged");
        if (leak.tcp->snd_wnd == 0)
            out.append(" (peer window 0)");
    }
    out.append(": ");
    append_verdict(out, leak, VerdictForm::Compact);
    if (leak.peer) {
        out.append("; the other end: ");
        if (leak.peer->holder) {
            out.append("pid ");
            append_pid_comm(out, leak.peer->holder->pid, leak.peer->holder->comm);
            out.append(" fd ");
            append_decimal(out, leak.peer->holder->fd);
            out.append(" in ");
        } else {
            out.append("orphaned in "); // no descriptor holds it
        }
        out.append(tcp_state_name(leak.peer->state));
    }
}

void append_explanation_lines(std::string& out, const Leak& leak, std::string_view indent) {
    if (!leak.explanation || leak.explanation->why.empty())
        return;
    out.append(indent);
    out.append("why: ");
    append_printable(out, leak.explanation->why);
    out.push_back('\n');
    if (!leak.explanation->hint.empty()) {
        out.append(indent);
        out.append("hint: ");
        append_printable(out, leak.explanation->hint);
        out.push_back('\n');
    }
}

void append_state_list(std::string& out, std::uint32_t states) {
    std::vector<std::string_view> names;
    for (std::uint8_t state = 1; state < 32; ++state)
        if ((states >> state) & 1)
            names.push_back(tcp_state_name(state));
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0)
            out.append(i + 1 == names.size() ? " or " : ", ");
        out.append(names[i]);
    }
}

void append_leaked_in(std::string& out, std::uint32_t states) {
    out.append(states == 1U << kTcpCloseWait ? " leaked in " : " stuck in ");
    append_state_list(out, states);
}

void append_closer(std::string& out, const ClosedBy& closed_by) {
    append_pid_comm(out, closed_by.pid, closed_by.comm);
    out.append(" (");
    if (closed_by.fd) {
        out.append("fd ");
        append_decimal(out, *closed_by.fd);
        out.append(", ");
    }
    out.append(release_via_name(closed_by.via));
    out.push_back(')');
}

void append_holders(std::string& out, const std::vector<Holder>& holders) {
    bool first = true;
    for (const Holder& h : holders) {
        if (!first)
            out.append(", ");
        first = false;
        append_pid_comm(out, h.pid, h.comm);
        out.append(" fd ");
        append_decimal(out, h.fd);
    }
}

bool held_elsewhere(const Leak& leak) {
    return std::any_of(leak.holders.begin(), leak.holders.end(), [&leak](const Holder& h) {
        return h.pid != leak.pid || (leak.fd && h.fd != *leak.fd);
    });
}

void append_verdict_details(std::string& out, const Leak& leak) {
    const std::size_t start = out.size();
    if (leak.closed_by) {
        out.append("closed by ");
        append_closer(out, *leak.closed_by);
    }
    if (!leak.holders.empty() && (leak.verdict == Verdict::ClosedStillReferenced || held_elsewhere(leak))) {
        if (out.size() != start)
            out.append("; ");
        out.append("held by ");
        append_holders(out, leak.holders);
    }
}

void append_verdict(std::string& out, const Leak& leak, VerdictForm form) {
    const bool closed = leak.verdict == Verdict::ClosedStillReferenced;
    if (form == VerdictForm::Compact && closed && leak.closed_by) {
        append_verdict_details(out, leak);
        return;
    }
    out.append(verdict_label(leak.verdict));
    const std::size_t label_end = out.size();
    out.append(form == VerdictForm::Labelled && closed ? ": " : "; ");
    const std::size_t details = out.size();
    append_verdict_details(out, leak);
    if (out.size() == details)
        out.resize(label_end); // no details: no separator
}

void append_resolution(std::string& out, const LeakResolved& r) {
    if (r.how == ResolvedHow::StateChange && r.to_state) {
        out.append("moved to ");
        out.append(tcp_state_name(*r.to_state));
        return;
    }
    out.append(resolved_how_name(r.how));
    if (r.by_pid) {
        out.append(" by ");
        append_pid_comm(out, *r.by_pid, r.by_comm);
    }
}

} // namespace tcpleak
