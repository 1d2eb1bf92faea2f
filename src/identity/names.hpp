// Validators for the names the kernel, the kubelet and systemd hand us. Every
// identity field is copied only from a name one of these accepted, so junk or
// hostile directory names never reach the outputs.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tcpleak::identity {

// A container id: exactly 64 lower-case hex digits (docker, containerd, CRI-O, podman).
bool is_container_id(std::string_view name);

// The canonical pod UID: lower-case, '-' separated (the systemd driver writes
// '_' instead). Accepts a UUID (8-4-4-4-12 hex) or the 32-hex hash the kubelet
// gives static pods; nullopt for anything else.
std::optional<std::string> normalise_pod_uid(std::string_view uid);

// RFC 1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends (namespaces, container names).
bool is_dns_label(std::string_view name);
// RFC 1123 subdomain: up to 253 bytes of dot-separated labels (pod names).
bool is_dns_subdomain(std::string_view name);

// A systemd unit that can hold processes (.service, .scope, .socket, .mount,
// .swap), named with systemd's unit-name alphabet.
bool is_process_unit_name(std::string_view name);

std::string_view without_suffix(std::string_view name, std::string_view suffix);

// Exactly three parts separated by `separator`, or nullopt (fewer or more).
std::optional<std::array<std::string_view, 3>> split_three(std::string_view text, char separator);

} // namespace tcpleak::identity
