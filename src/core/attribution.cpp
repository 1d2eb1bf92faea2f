#include "tcpleak/core/attribution.hpp"

#include "tcpleak/core/tcp_state.hpp"

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

void Attributor::add_listener(const ListenerKey& key, std::uint64_t cookie, const Owner& owner) {
    Listeners& on_port = listeners_[key];
    for (Listener& l : on_port)
        if (l.cookie == cookie) {
            l.owner = owner;
            return;
        }
    // Listeners whose close was lost must not pile up: keep the newest.
    constexpr std::size_t kMaxListenersPerPort = 64;
    if (on_port.size() >= kMaxListenersPerPort)
        on_port.erase(on_port.begin());
    on_port.push_back({cookie, owner});
}

void Attributor::remove_listener(const ListenerKey& key, std::uint64_t cookie) {
    const auto it = listeners_.find(key);
    if (it == listeners_.end())
        return;
    std::erase_if(it->second, [cookie](const Listener& l) { return l.cookie == cookie; });
    if (it->second.empty())
        listeners_.erase(it);
}

const Owner* Attributor::listener_owner(const ListenerKey& key) const {
    const auto it = listeners_.find(key);
    if (it == listeners_.end())
        return nullptr;
    const Owner& first = it->second.front().owner;
    for (const Listener& l : it->second)
        if (l.owner.pid != first.pid)
            return nullptr; // which one received it is not known here: no guess
    return &first;
}

Attribution Attributor::attribute(const Transition& t) {
    Attribution said;
    Entry& e = entry(t.cookie);
    const ListenerKey listener{t.netns, t.family, t.sport};

    if (e.since_ns != 0 && t.mono_ns >= e.since_ns)
        said.old_state_ns = t.mono_ns - e.since_ns;
    e.since_ns = t.mono_ns;

    if (t.owner_context) {
        e.owner = {t.ctx_pid, t.ctx_process_comm, t.ctx_cgroup,
                   t.new_state == kTcpListen ? OwnerVia::Listen : OwnerVia::Connect};
        if (t.new_state == kTcpListen)
            add_listener(listener, t.cookie, e.owner);
    } else if (t.old_state == kTcpListen && t.new_state == kTcpSynRecv && e.owner.via == OwnerVia::None &&
               !t.listener_shared) {
        // A connection the listener received: its owner's until accepted,
        // unless the listener's file is shared (forked workers: whichever
        // accepts it owns it, and which one will is not known).
        if (const Owner* owner = listener_owner(listener)) {
            e.owner = *owner;
            e.owner.via = OwnerVia::Listener;
        }
    }

    if (e.owner.via != OwnerVia::None)
        said.owner = e.owner;

    if (t.new_state == kTcpClose) {
        if (t.old_state == kTcpListen)
            remove_listener(listener, t.cookie);
        forget(t.cookie);
    }
    return said;
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
        add_listener({holder.netns, holder.family, holder.sport}, holder.cookie, e.owner);
}

} // namespace tcpleak
