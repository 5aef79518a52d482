// The discovery pass (pods the agent never saw through CNI), the CNI 1.1 verbs STATUS and GC,
// secondary interfaces and hostNetwork pods, over in-memory seams. Pure.
#include <catch2/catch.hpp>

#include "enroller_world.h"
#include "node-agent/core/pod_discovery.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

// A running pod of this node as the API (or the metadata file) shows it.
void runningHere(World& w, const std::string& key, const std::vector<std::string>& ips,
                 const std::string& uid = "") {
  PodMeta m;
  m.uid = uid;
  m.ips = testing::ipsOf(ips);
  w.meta.meta.pods[key] = m;
  w.meta.meta.nodePods[key] = m;
}

void withZtunnel(World& w) {
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
}

}  // namespace

TEST_CASE("matching: one namespace, not found, two holders, split addresses", "[discovery]") {
  std::vector<NetnsInterface> scan = {
      {"/var/run/netns/a", 1, "eth0", {"10.0.0.1"}},
      {"/proc/10/ns/net", 1, "eth0", {"10.0.0.1"}},  // the same namespace again: one holder
      {"/var/run/netns/b", 2, "eth0", {"10.0.0.2"}},
      {"/var/run/netns/c", 3, "eth0", {"10.0.0.2"}},
      {"/var/run/netns/d", 4, "eth0", {"10.0.0.4"}},
      {"/var/run/netns/e", 5, "eth0", {"10.0.0.5"}},
  };
  std::vector<DiscoveryCandidate> pods = {
      {"foo", "a", "u1", {"10.0.0.1"}},
      {"foo", "b", "u2", {"10.0.0.2"}},
      {"foo", "gone", "u3", {"10.0.0.9"}},
      {"foo", "split", "u4", {"10.0.0.4", "10.0.0.5"}},
      {"foo", "moved", "u5", {"10.0.0.4", "10.0.0.99"}},
  };
  DiscoveryMatch m = matchDiscovered(pods, scan);
  REQUIRE(m.found.size() == 1);
  CHECK(m.found[0].pod.name == "a");
  CHECK(m.found[0].netns == "/var/run/netns/a");  // the first path of the namespace
  CHECK(m.found[0].ifname.str() == "eth0");
  REQUIRE(m.missing.size() == 4);
  CHECK(m.missing[0].pod.name == "b");
  CHECK(m.missing[0].reason.find("held by 2 network namespaces") != std::string::npos);
  CHECK(m.missing[1].pod.name == "gone");
  CHECK(m.missing[1].reason == kNamespaceNotFound);
  CHECK(m.missing[2].pod.name == "split");
  CHECK(m.missing[2].reason.find("split between") != std::string::npos);
  CHECK(m.missing[3].pod.name == "moved");
  CHECK(m.missing[3].reason.find("10.0.0.99") != std::string::npos);
}

TEST_CASE("candidates: running ambient pods of this node missing from the registry",
          "[discovery]") {
  World w;
  runningHere(w, "foo/new", {"10.244.1.40"}, "u-new");
  runningHere(w, "foo/known", {"10.244.1.41"}, "uid-known");
  runningHere(w, "bar/plain", {"10.244.1.42"});
  runningHere(w, "foo/no-ip", {});
  runningHere(w, "foo/host", {"172.30.0.1"});
  w.meta.meta.nodePods["foo/host"].hostNetwork = true;
  w.meta.meta.pods["foo/host"].hostNetwork = true;
  runningHere(w, "foo/pending", {"10.244.1.44"});
  w.meta.meta.nodePods["foo/pending"].running = false;
  PodRegistry reg;
  reg.pods["uid-known"] = PodRecord{"uid-known", "foo", "known", "c", "/n", "eth0", {}, {}, false};
  auto c = computeDiscoveryCandidates(w.meta.meta, reg, MembershipPolicy{});
  REQUIRE(c.size() == 1);
  CHECK(c[0] == DiscoveryCandidate{"foo", "new", "u-new", {"10.244.1.40"}});
}

TEST_CASE("a pod running before the agent is enrolled by discovery, with one scan per pass",
          "[discovery]") {
  World w;
  withZtunnel(w);
  for (int n = 1; n <= 100; ++n) {
    std::string ip = "10.244.2." + std::to_string(n);
    runningHere(w, "foo/old-" + std::to_string(n), {ip}, "u-old-" + std::to_string(n));
    w.scanner.addPod(n, {ip});
  }
  REQUIRE(w.enroller.resync());
  CHECK(w.scanner.scans == 1);  // one pass over the node, whatever the number of pods
  CHECK(w.members().size() == 100);
  const PodRecord& rec = w.store.saved.pods.at("u-old-7");
  CHECK(rec.enrolled);
  CHECK(rec.netns == "/var/run/netns/pod-7");
  CHECK(rec.hostVeth.str() == "veth7");
  CHECK(rec.containerId.empty());
  CHECK(w.annotator.marks.at("foo/old-7"));
  CHECK(w.enroller.notEnrolled().empty());
  // Nothing missing: the next pass does not scan at all.
  REQUIRE(w.enroller.resync());
  CHECK(w.scanner.scans == 1);
  // The registry written is one a restarted agent loads and adopts.
  auto loaded = decodeRegistry(encodeRegistry(w.store.saved));
  REQUIRE(loaded);
  auto again = w.restarted();
  REQUIRE(again->start(*loaded));
  CHECK(again->enrolledCount() == 100);
}

TEST_CASE("a pod whose namespace cannot be found is reported, never half-enrolled", "[discovery]") {
  World w;
  withZtunnel(w);
  runningHere(w, "foo/ghost", {"10.244.1.50"}, "u-ghost");
  runningHere(w, "foo/twice", {"10.244.1.51"}, "u-twice");
  w.scanner.addPod(1, {"10.244.1.51"});
  w.scanner.addPod(2, {"10.244.1.51"});
  int saves = w.store.saves;
  REQUIRE(w.enroller.resync());
  CHECK(w.store.saves == saves);  // nothing persisted
  CHECK(w.members().empty());
  auto missing = w.enroller.notEnrolled();
  REQUIRE(missing.size() == 2);
  CHECK(missing.at("foo/ghost") == "namespace not found");
  CHECK(missing.at("foo/twice").find("held by 2") != std::string::npos);
  // A scan that fails reports every candidate and persists nothing.
  w.scanner.failScan = true;
  CHECK_FALSE(w.enroller.resync());
  CHECK(w.enroller.notEnrolled().at("foo/ghost").find("cannot be scanned") != std::string::npos);
  CHECK(w.store.saves == saves);
}

TEST_CASE("without ztunnel discovery waits and says so", "[discovery]") {
  World w;
  runningHere(w, "foo/early", {"10.244.1.60"}, "u-early");
  w.scanner.addPod(60, {"10.244.1.60"});
  REQUIRE(w.enroller.resync());
  CHECK(w.scanner.scans == 0);
  CHECK(w.enroller.notEnrolled().at("foo/early").find("ztunnel") != std::string::npos);
  withZtunnel(w);
  REQUIRE(w.enroller.resync());
  CHECK(w.members().size() == 1);
  CHECK(w.enroller.notEnrolled().empty());
}

TEST_CASE("a discovered pod whose IP changes is released, then found again", "[discovery]") {
  World w;
  withZtunnel(w);
  runningHere(w, "foo/mover", {"10.244.1.70"}, "u-mover");
  w.scanner.addPod(70, {"10.244.1.70"});
  REQUIRE(w.enroller.resync());
  REQUIRE(w.members() == std::vector<IpAddress>{"10.244.1.70"});
  runningHere(w, "foo/mover", {"10.244.1.71"}, "u-mover");
  w.scanner.interfaces.clear();
  w.scanner.addPod(71, {"10.244.1.71"});
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.71"});
  CHECK(w.store.saved.pods.at("u-mover").netns == "/var/run/netns/pod-71");
}

TEST_CASE("a dual-stack pod relabelled ambient on an IPv4 ztunnel is refused with a reason",
          "[discovery]") {
  World w;
  withZtunnel(w);
  PodRequest r = w.request(PodCommand::kAdd, "bar", "dual", 9, "10.244.1.9");
  r.ips = {"10.244.1.9", "fd00::9"};
  REQUIRE(w.enroller.handle(r).verdict == PodVerdict::kNotAmbient);
  w.meta.meta.namespaces["bar"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  CHECK_FALSE(w.enroller.resync());
  CHECK_FALSE(w.store.saved.pods.at("uid-dual").enrolled);
  CHECK(w.members().empty());
  std::string why = w.enroller.notEnrolled().at("bar/dual");
  CHECK(why.find("fd00::9") != std::string::npos);
  CHECK(why.find("this node's ztunnel pod has none") != std::string::npos);
  auto loaded = decodeRegistry(encodeRegistry(w.store.saved));
  REQUIRE(loaded);
  REQUIRE(w.restarted()->start(*loaded));
}

TEST_CASE("hostNetwork pods are never enrolled", "[discovery]") {
  World w;
  withZtunnel(w);
  w.meta.meta.pods["foo/hostnet"].hostNetwork = true;
  auto r = w.send(PodCommand::kAdd, "foo", "hostnet", 5, "10.244.1.5");
  CHECK(r.verdict == PodVerdict::kNotAmbient);
  CHECK(r.message.find("hostNetwork") != std::string::npos);
  CHECK(w.members().empty());
}

TEST_CASE("secondary interfaces: ADD and DEL for net1 leave the pod as it is", "[verbs]") {
  World w;
  withZtunnel(w);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "multi", 3, "10.244.1.33").verdict ==
          PodVerdict::kEnrolled);
  PodRequest add = w.request(PodCommand::kAdd, "foo", "multi", 3, "192.168.50.3");
  add.ifname = "net1";
  CHECK(w.enroller.handle(add).verdict == PodVerdict::kNotAmbient);
  PodRequest del = w.request(PodCommand::kDel, "foo", "multi", 3, "192.168.50.3");
  del.ifname = "net1";
  CHECK(w.enroller.handle(del).verdict == PodVerdict::kReleased);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.33"});
  CHECK(w.store.saved.pods.at("uid-multi").enrolled);
  CHECK(w.store.saved.pods.at("uid-multi").ips == std::vector<IpAddress>{"10.244.1.33"});
}

TEST_CASE("STATUS: 50 until the agent can enroll, then ready", "[verbs]") {
  World w;
  PodRequest status;
  status.command = PodCommand::kStatus;
  auto r = w.enroller.handle(status);
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrPluginNotAvailable);
  CHECK(r.message.find("ztunnel") != std::string::npos);
  withZtunnel(w);
  CHECK(w.enroller.handle(status).verdict == PodVerdict::kReady);
  w.meta.meta.ready = false;
  w.meta.meta.notReadyReason = "Kubernetes API not synced";
  r = w.enroller.handle(status);
  CHECK(r.cniCode == kCniErrPluginNotAvailable);
  CHECK(r.message.find("not synced") != std::string::npos);
}

TEST_CASE("GC releases registered pods absent from the valid attachments", "[verbs]") {
  World w;
  withZtunnel(w);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "kept", 1, "10.244.1.81").verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "stale", 2, "10.244.1.82").verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "bar", "plain", 3, "10.244.1.83").verdict ==
          PodVerdict::kNotAmbient);
  runningHere(w, "foo/found", {"10.244.1.84"}, "u-found");
  w.scanner.addPod(84, {"10.244.1.84"});
  REQUIRE(w.enroller.resync());
  PodRequest gc;
  gc.command = PodCommand::kGc;
  gc.validAttachments = {{"c-kept", "eth0"}, {"c-plain", "eth0"}};
  auto r = w.enroller.handle(gc);
  CHECK(r.verdict == PodVerdict::kReleased);
  CHECK(r.message.find("released 1") != std::string::npos);
  CHECK(w.store.saved.pods.count("uid-stale") == 0);
  CHECK(w.store.saved.pods.count("uid-kept") == 1);
  CHECK(w.store.saved.pods.count("uid-plain") == 1);
  CHECK(w.store.saved.pods.count("u-found") == 1);  // discovered: the API decides about it
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.81", "10.244.1.84"});
}
