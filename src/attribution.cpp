#include "tcpleak/attribution.hpp"

#include "tcpleak/tcp_state.hpp"

namespace tcpleak {

Attributor::Attributor(std::size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

Attributor::Entry& Attributor::entry(std::uint64_t cookie) {
    auto [it, inserted] = sockets_.try_emplace(cookie);
    if (inserted) {
        it->second.order = next_order_++;
        order_.emplace_back(it->second.order, cookie);
        bound_size();
    }
    return it->second;
}

void Attributor::forget(std::uint64_t cookie) {
    sockets_.erase(cookie);
    // Dead entries at the front cost nothing to drop; a long-lived socket
    // keeps the ones behind it, so compact once they outnumber the living.
    while (!order_.empty() && !sockets_.contains(order_.front().second))
        order_.pop_front();
    if (order_.size() > 2 * sockets_.size() + 1024)
        std::erase_if(order_, [this](const auto& item) {
            const auto it = sockets_.find(item.second);
            return it == sockets_.end() || it->second.order != item.first;
        });
}

void Attributor::bound_size() {
    while (sockets_.size() > capacity_ && !order_.empty()) {
        const auto [order, cookie] = order_.front();
        order_.pop_front();
        const auto it = sockets_.find(cookie);
        if (it != sockets_.end() && it->second.order == order) {
            sockets_.erase(it);
            ++evictions_;
        }
    }
}

void Attributor::attribute(Transition& t) {
    Entry& e = entry(t.cookie);
    const ListenerKey listener{t.netns, t.family, t.sport};

    if (e.since_ns != 0 && t.mono_ns >= e.since_ns)
        t.old_state_ns = t.mono_ns - e.since_ns;
    e.since_ns = t.mono_ns;

    if (t.owner_context) {
        e.owner = {t.ctx_pid, t.ctx_process_comm, t.ctx_cgroup,
                   t.new_state == kTcpListen ? OwnerVia::Listen : OwnerVia::Connect};
        if (t.new_state == kTcpListen)
            listeners_[listener] = e.owner;
    } else if (t.old_state == kTcpListen && t.new_state == kTcpSynRecv && e.owner.via == OwnerVia::None) {
        // A connection the listener received: its owner's until accepted.
        if (const auto it = listeners_.find(listener); it != listeners_.end()) {
            e.owner = it->second;
            e.owner.via = OwnerVia::Listener;
        }
    }

    t.owner_known = e.owner.via != OwnerVia::None;
    t.owner_via = e.owner.via;
    t.owner_pid = e.owner.pid;
    t.owner_comm = e.owner.comm;
    t.owner_cgroup = e.owner.cgroup;

    if (t.new_state == kTcpClose) {
        if (t.old_state == kTcpListen) {
            const auto it = listeners_.find(listener);
            if (it != listeners_.end() && it->second.pid == e.owner.pid)
                listeners_.erase(it);
        }
        forget(t.cookie);
    }
}

void Attributor::on_accept(const Accept& accept) {
    entry(accept.cookie).owner = {accept.pid, accept.comm, accept.cgroup, OwnerVia::Accept};
}

void Attributor::on_existing_socket(const SocketHolder& holder) {
    Entry& e = entry(holder.cookie);
    if (e.owner.via != OwnerVia::None)
        return; // a hook saw it first, or an earlier descriptor
    e.owner = {holder.pid, holder.comm, holder.cgroup, OwnerVia::FdTable};
    if (holder.state == kTcpListen)
        listeners_.try_emplace({holder.netns, holder.family, holder.sport}, e.owner);
}

} // namespace tcpleak
