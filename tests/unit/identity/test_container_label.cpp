#include "tcpleak/identity/container_label.hpp"

#include <doctest/doctest.h>

using tcpleak::identity::container_label;
using tcpleak::identity::Identity;

TEST_CASE("container label: pod and container, else the short container id, the unit, the cgroup path") {
    Identity pod;
    pod.cgroup_path = "/kubepods.slice/kubepods-burstable.slice/cri-containerd-0123456789ab.scope";
    pod.container_id = std::string(64, 'a');
    pod.systemd_unit = "cri-containerd-0123456789ab.scope";
    pod.pod = "api-7d9f";
    pod.namespace_name = "shop";
    pod.container_name = "api";
    CHECK(container_label(pod) == "shop/api-7d9f/api");
    pod.container_name.clear(); // the pod's sandbox, or a container not in the pod directory yet
    CHECK(container_label(pod) == "shop/api-7d9f");

    Identity docker;
    docker.cgroup_path = "/system.slice/docker-" + std::string(64, 'f') + ".scope";
    docker.container_id = "0123456789abcdef" + std::string(48, '0');
    docker.systemd_unit = "docker-x.scope";
    CHECK(container_label(docker) == "0123456789ab");

    Identity service;
    service.cgroup_path = "/system.slice/nginx.service";
    service.systemd_unit = "nginx.service";
    CHECK(container_label(service) == "nginx.service");

    Identity plain;
    plain.cgroup_path = "/tcpleak-e2e-top-1234";
    CHECK(container_label(plain) == "/tcpleak-e2e-top-1234");

    Identity root;
    root.cgroup_path = "/";
    CHECK(container_label(root).empty());
    CHECK(container_label(Identity{}).empty()); // gone: no path
}
