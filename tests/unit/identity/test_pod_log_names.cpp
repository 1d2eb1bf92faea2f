#include "identity_support.hpp"
#include "tcpleak/identity/pod_log_names.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tcpleak::identity;
using tcpleak::identity::test::kId;
using tcpleak::identity::test::kUid;

TEST_CASE("a pod log directory names namespace, pod and uid") {
    const auto dir = parse_pod_log_dir("ccos-monitoring_node-exporter-vp9rf_" + kUid);
    REQUIRE(dir);
    CHECK(dir->namespace_name == "ccos-monitoring");
    CHECK(dir->pod == "node-exporter-vp9rf");
    CHECK(dir->uid == kUid);
}

TEST_CASE("pod names are DNS subdomains: dots are fine; static pods have 32-hex uids") {
    const auto dir = parse_pod_log_dir("kube-system_etcd-node1.example.com_3e61c214bc3ed9ff81e21474dd6cba17");
    REQUIRE(dir);
    CHECK(dir->pod == "etcd-node1.example.com");
    CHECK(dir->uid == "3e61c214bc3ed9ff81e21474dd6cba17");
}

TEST_CASE("junk pod directories are refused") {
    for (const std::string& name : std::vector<std::string>{
             std::string("default_web"),                             // no uid
             "default_web_" + kUid + "_extra",                       // a fourth part
             "Default_web_" + kUid,                                  // upper case
             "default_web-_" + kUid,                                 // ends with '-'
             "default__" + kUid,                                     // empty pod
             "_web_" + kUid,                                         // empty namespace
             "default_web_not-a-uid",                                //
             "default_we b_" + kUid,                                 //
             "default_web\xff_" + kUid,                              // not ASCII
             std::string(64, 'a') + "_web_" + kUid,                  // namespace over 63
             "default_" + std::string(254, 'a') + "_" + kUid,        // pod over 253
             "default_a..b_" + kUid,                                 // an empty label
             std::string("."),
             std::string(""),
         }) {
        INFO("name: " << name);
        CHECK_FALSE(parse_pod_log_dir(name));
    }
}

TEST_CASE("a container log link names pod, namespace, container and id") {
    const auto link = parse_container_log_link("node-exporter-vp9rf_ccos-monitoring_node-exporter-" + kId + ".log");
    REQUIRE(link);
    CHECK(link->pod == "node-exporter-vp9rf");
    CHECK(link->namespace_name == "ccos-monitoring");
    CHECK(link->container == "node-exporter"); // container names have dashes too: the id is the last 64
    CHECK(link->container_id == kId);
}

TEST_CASE("junk container log links are refused") {
    for (const std::string& name : std::vector<std::string>{
             "web_default_nginx-" + kId,                   // no .log
             "web_default_nginx" + kId + ".log",           // no '-' before the id
             "web_default_nginx-" + kId.substr(1) + ".log", // short id
             "web_default-nginx-" + kId + ".log",          // two parts
             "web_default_ng_inx-" + kId + ".log",         // four parts
             "web_default_-" + kId + ".log",               // empty container
             "web_default_Nginx-" + kId + ".log",          //
             std::string(".log"),
             std::string("-.log"),
         }) {
        INFO("name: " << name);
        CHECK_FALSE(parse_container_log_link(name));
    }
}

TEST_CASE("a link target names the pod directory and container") {
    const auto target = parse_container_log_target("/var/log/pods/default_web-0_" + kUid + "/nginx/3.log");
    REQUIRE(target);
    CHECK(target->pod.namespace_name == "default");
    CHECK(target->pod.pod == "web-0");
    CHECK(target->pod.uid == kUid);
    CHECK(target->container == "nginx");
    CHECK(parse_container_log_target("../pods/default_web-0_" + kUid + "/nginx/0.log"));
    CHECK_FALSE(parse_container_log_target("/var/log/pods/default_web-0_" + kUid + "/nginx"));
    CHECK_FALSE(parse_container_log_target("/var/log/pods/default_web-0/nginx/0.log"));
    CHECK_FALSE(parse_container_log_target("0.log"));
    CHECK_FALSE(parse_container_log_target(""));
}
