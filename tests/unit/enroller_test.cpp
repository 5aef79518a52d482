// The agent's enrollment decisions over in-memory seams: fail closed without ztunnel, ztunnel
// learnt and re-pointed, membership rules, idempotent DEL, restart adoption, persistence and
// kernel failures. Pure.
#include "node-agent/core/enroller.h"

#include <catch2/catch.hpp>

#include "agent_fakes.h"
#include "common/core/constants.h"
#include "common/core/nft_rules.h"
#include "common/core/reconcile.h"
#include "common/core/render.h"
#include "enroller_world.h"

using namespace ambient;
using namespace ambient::testing;

TEST_CASE("an ambient pod cannot start before ztunnel: try again later", "[enroller]") {
  World w;
  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrTryAgainLater);
  CHECK(r.message.find("no ztunnel") != std::string::npos);
  std::string why;
  CHECK_FALSE(w.enroller.ready(&why));
  CHECK(why.find("ztunnel") != std::string::npos);
}

TEST_CASE("ztunnel is learnt and then ambient pods are enrolled", "[enroller]") {
  World w;
  auto z = w.registerZtunnel();
  REQUIRE(z.verdict == PodVerdict::kNotAmbient);
  CHECK(w.enroller.ready(nullptr));
  REQUIRE(w.node().owned.tunnels.size() == 2);
  CHECK(w.node().owned.tunnels[0].remote.str() == "10.244.1.3");
  CHECK(w.kernel.namespaces["/var/run/netns/zt-1"].owned.tunnels.size() == 2);

  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  REQUIRE(r.verdict == PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(w.store.saved.pods.at("uid-sleep").enrolled);
  CHECK(w.store.saved.pods.at("uid-sleep").hostVeth.str() == "veth7");
  CHECK(w.enroller.enrolledCount() == 1);
}

TEST_CASE("membership: labels and sidecars and opt-out and excluded namespaces", "[enroller]") {
  World w;
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
  w.meta.meta.namespaces["kube-system"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  w.meta.meta.pods["foo/with-sidecar"].annotations = {{"sidecar.istio.io/status", "{}"}};
  w.meta.meta.pods["foo/opted-out"].annotations = {{"ambient.istio.io/redirection", "disabled"}};

  CHECK(w.send(PodCommand::kAdd, "bar", "httpbin", 1, "10.244.1.11").verdict ==
        PodVerdict::kNotAmbient);
  CHECK(w.send(PodCommand::kAdd, "foo", "with-sidecar", 2, "10.244.1.12").verdict ==
        PodVerdict::kNotAmbient);
  CHECK(w.send(PodCommand::kAdd, "foo", "opted-out", 3, "10.244.1.13").verdict ==
        PodVerdict::kNotAmbient);
  CHECK(w.send(PodCommand::kAdd, "kube-system", "dns", 4, "10.244.1.14").verdict ==
        PodVerdict::kNotAmbient);
  // app=ztunnel in another namespace is not a ztunnel: here it is just a pod of a plain
  // namespace.
  CHECK(w.send(PodCommand::kAdd, "other", "fake-ztunnel", 5, "10.244.1.15").verdict ==
        PodVerdict::kNotAmbient);
  CHECK(w.node().owned.tunnels[0].remote.str() == "10.244.1.3");
  CHECK(w.members().empty());
  // Remembered, not enrolled (a later label flip can enroll them).
  CHECK(w.store.saved.pods.size() == 5);
  CHECK(w.enroller.enrolledCount() == 0);
}

TEST_CASE("DEL is idempotent and releases only that pod", "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.1.21");
  w.send(PodCommand::kAdd, "foo", "b", 2, "10.244.1.22");
  CHECK(w.send(PodCommand::kDel, "foo", "a", 1, "10.244.1.21").verdict == PodVerdict::kReleased);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.22"});
  CHECK(w.enroller.enrolledCount() == 1);
  CHECK(w.send(PodCommand::kDel, "foo", "a", 1, "10.244.1.21").verdict == PodVerdict::kReleased);
  CHECK(w.enroller.enrolledCount() == 1);
  // DEL with only a container ID (no pod UID), as after a failed ADD.
  PodRequest r;
  r.command = PodCommand::kDel;
  r.containerId = "c-b";
  CHECK(w.enroller.handle(r).verdict == PodVerdict::kReleased);
  CHECK(w.members().empty());
  CHECK(w.enroller.enrolledCount() == 0);
}

TEST_CASE("a new ztunnel IP re-points the tunnels and keeps enrolled pods", "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  // ztunnel goes away: the node keeps its state, so ambient traffic stops rather than leaks.
  auto before = w.node().owned;
  CHECK(w.send(PodCommand::kDel, "istio-system", "ztunnel-a", 0, "10.244.1.3").verdict ==
        PodVerdict::kReleased);
  CHECK(w.node().owned == before);
  // It comes back with another IP.
  REQUIRE(w.addZtunnel("ztunnel-b", "10.244.1.9", "/var/run/netns/zt-2").verdict ==
          PodVerdict::kNotAmbient);
  CHECK(w.node().owned.tunnels[0].remote.str() == "10.244.1.9");
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(w.kernel.namespaces["/var/run/netns/zt-2"].owned.tunnels[1].name == "pistioout");
}

TEST_CASE("a restarted agent adopts its registry and converges", "[enroller]") {
  World w;
  w.registerZtunnel();
  for (int i = 0; i < 20; ++i) {
    w.send(PodCommand::kAdd, "foo", "p" + std::to_string(i), i, "10.244.2." + std::to_string(i));
  }
  // Someone removes the node's table while the agent is down.
  w.kernel.namespaces[kNode].owned.nft.reset();
  auto second = w.restarted();
  REQUIRE(second->start(w.store.saved));
  CHECK(second->enrolledCount() == 20);
  CHECK(w.members().size() == 20);
  CHECK(second->ready(nullptr));
}

TEST_CASE("a registry that cannot be saved changes neither memory nor kernel", "[enroller]") {
  World w;
  w.registerZtunnel();
  int appliesBefore = w.kernel.applies;
  w.store.failSaves = 1;
  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrIo);
  CHECK(w.enroller.enrolledCount() == 0);
  CHECK(w.kernel.applies == appliesBefore);
}

TEST_CASE("a kernel error fails the ADD and the next pass converges", "[enroller]") {
  World w;
  w.registerZtunnel();
  w.kernel.failApplies = 1;
  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrTryAgainLater);
  CHECK(r.message.find("injected netlink error") != std::string::npos);
  CHECK_FALSE(w.enroller.ready(nullptr));
  REQUIRE(w.enroller.reconcileAll());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(w.enroller.ready(nullptr));
}

TEST_CASE("bad ADD input is refused with the right CNI code", "[enroller]") {
  World w;
  w.registerZtunnel();
  CHECK(w.send(PodCommand::kAdd, "foo", "v6", 1, "fd00::1").cniCode == kCniErrInvalidConfig);
  CHECK(w.send(PodCommand::kAdd, "foo", "gone", 2, "10.244.1.30", "/var/run/netns/missing-2")
            .cniCode == kCniErrIo);
  PodRequest anonymous;
  anonymous.containerId = "c";
  CHECK(w.enroller.handle(anonymous).cniCode == kCniErrInvalidEnv);
  CHECK(w.enroller.enrolledCount() == 0);
}

TEST_CASE("a pod change applies only its objects without reading the whole kernel", "[enroller]") {
  World w;
  w.registerZtunnel();
  for (int i = 0; i < 50; ++i) {
    w.send(PodCommand::kAdd, "foo", "p" + std::to_string(i), i, "10.244.2." + std::to_string(i));
  }
  int observes = w.kernel.observes;
  REQUIRE(w.send(PodCommand::kAdd, "foo", "extra", 99, "10.244.2.99").verdict ==
          PodVerdict::kEnrolled);
  CHECK(w.kernel.observes == observes);
  CHECK(w.kernel.lastApplied.changes.size() == 3);  // route, set element, veth rp_filter
  REQUIRE(w.send(PodCommand::kDel, "foo", "extra", 99, "10.244.2.99").verdict ==
          PodVerdict::kReleased);
  CHECK(w.kernel.lastApplied.changes.size() == 3);
  CHECK(w.kernel.observes == observes);
}

TEST_CASE("drift made behind the agent's back is repaired by the full pass", "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.2.1");
  auto& routes = w.kernel.namespaces[kNode].owned.routes;
  routes.erase(routes.begin());  // someone deletes a route
  w.send(PodCommand::kAdd, "foo", "b", 2, "10.244.2.2");
  REQUIRE(w.enroller.reconcileAll());
  auto in = w.enroller.planInput();
  REQUIRE(in);
  CHECK(
      diff(*computeNodePlan(*in), ObservedState{w.node().owned, w.ledger.entries(NetnsRole::kNode)})
          .empty());
}

TEST_CASE("labelling a namespace enrolls its running pods and unlabelling releases them",
          "[enroller][resync]") {
  World w;
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.send(PodCommand::kAdd, "bar", "httpbin", 1, "10.244.1.11").verdict ==
          PodVerdict::kNotAmbient);
  REQUIRE(w.send(PodCommand::kAdd, "bar", "sleep", 2, "10.244.1.12").verdict ==
          PodVerdict::kNotAmbient);
  w.meta.meta.pods["bar/sleep"].annotations = {{"sidecar.istio.io/status", "{}"}};
  REQUIRE(w.enroller.resync());
  CHECK(w.members().empty());

  w.meta.meta.namespaces["bar"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.11"});  // not the sidecar pod
  CHECK(w.store.saved.pods.at("uid-httpbin").enrolled);
  CHECK(w.store.saved.pods.at("uid-httpbin").hostVeth.str() == "veth1");
  CHECK(w.annotator.marks == std::map<std::string, bool>{{"bar/httpbin", true}});
  CHECK(w.enroller.enrolledCount() == 1);
  // The API does not show the mark yet (or someone replaced the object without it): marked again
  // on each pass until it shows; then nothing is left to do.
  int calls = w.annotator.calls;
  w.meta.meta.pods["bar/httpbin"].annotations.clear();  // listed, without the mark
  REQUIRE(w.enroller.resync());
  CHECK(w.annotator.calls == calls + 1);
  w.meta.meta.pods["bar/httpbin"].annotations = {{"ambient.istio.io/redirection", "enabled"}};
  REQUIRE(w.enroller.resync());
  CHECK(w.annotator.calls == calls + 1);
  CHECK(w.enroller.enrolledCount() == 1);

  SECTION("the label removed") {
    w.meta.meta.namespaces["bar"].labels.clear();
  }
  SECTION("the pod opts out") {
    w.meta.meta.pods["bar/httpbin"].annotations = {{"ambient.istio.io/redirection", "disabled"}};
  }
  SECTION("a sidecar appears") {
    w.meta.meta.pods["bar/httpbin"].annotations = {{"sidecar.istio.io/status", "{}"}};
  }
  REQUIRE(w.enroller.resync());
  CHECK(w.members().empty());
  CHECK_FALSE(w.store.saved.pods.at("uid-httpbin").enrolled);
  CHECK(w.annotator.marks.at("bar/httpbin") == false);
  CHECK(w.enroller.enrolledCount() == 0);
}

TEST_CASE("a pod just registered is not taken for deleted while the API list lags",
          "[enroller][resync]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.1.21").verdict == PodVerdict::kEnrolled);
  w.meta.meta.pods.erase("foo/a");  // the watch has not delivered the pod yet
  w.meta.meta.complete = true;
  w.clock.advance(std::chrono::seconds(29));  // within the 30 s grace
  REQUIRE(w.enroller.resync());
  CHECK(w.enroller.enrolledCount() == 1);
  // Past the grace, a complete list without the pod means it is gone.
  w.clock.advance(std::chrono::seconds(2));
  REQUIRE(w.enroller.resync());
  CHECK(w.enroller.enrolledCount() == 0);
  CHECK(w.members().empty());
}

TEST_CASE("a pod the API no longer has is released even without DEL", "[enroller][resync]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.1.21").verdict == PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "b", 2, "10.244.1.22").verdict == PodVerdict::kEnrolled);
  w.meta.meta.pods["foo/a"].uid = "uid-a";
  // An incomplete snapshot (metadata file) never implies deletion.
  REQUIRE(w.enroller.resync());
  CHECK(w.enroller.enrolledCount() == 2);

  w.meta.meta.complete = true;
  w.clock.advance(EnrollerConfig{}.deletionGrace);  // registered long enough ago
  SECTION("deleted") {}
  SECTION("recreated under the same name with another uid") {
    w.meta.meta.pods["foo/b"].uid = "uid-b-second";
  }
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.21"});
  CHECK(w.store.saved.pods.count("uid-b") == 0);
  CHECK(w.enroller.enrolledCount() == 1);
}

TEST_CASE("a pod that cannot be enrolled yet is retried by the next resync", "[enroller][resync]") {
  World w;
  REQUIRE(w.send(PodCommand::kAdd, "bar", "httpbin", 1, "10.244.1.11").verdict ==
          PodVerdict::kNotAmbient);
  w.meta.meta.namespaces["bar"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  auto first = w.enroller.resync();
  REQUIRE_FALSE(first);
  CHECK(first.error().message().find("waits for a ztunnel") != std::string::npos);
  CHECK(w.enroller.enrolledCount() == 0);
  w.registerZtunnel();
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.11"});
}

TEST_CASE("with metadata not synced yet new pods fail closed and enrolled pods stay",
          "[enroller][resync]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.1.21").verdict == PodVerdict::kEnrolled);
  w.meta.meta = MetadataSnapshot{};
  w.meta.meta.complete = true;
  w.meta.meta.ready = false;
  w.meta.meta.notReadyReason = "Kubernetes API not synced: connection refused";
  auto r = w.send(PodCommand::kAdd, "bar", "b", 2, "10.244.1.22");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrTryAgainLater);
  CHECK(r.message.find("connection refused") != std::string::npos);
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.21"});
}

TEST_CASE("an ambient ADD with a live enrolled pod's IP is refused and names that pod",
          "[enroller][ip-conflict]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "victim", 1, "10.244.1.20").verdict ==
          PodVerdict::kEnrolled);
  auto r = w.send(PodCommand::kAdd, "foo", "twin", 2, "10.244.1.20");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrInvalidConfig);
  CHECK(r.message.find("foo/victim") != std::string::npos);
  CHECK(w.store.saved.pods.count("uid-twin") == 0);
  CHECK(w.store.saved.pods.at("uid-victim").enrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.20"});
  auto in = w.enroller.planInput();
  REQUIRE(in);
  CHECK(computeNodePlan(*in));  // no "enrolled twice"
  // The same pod's repeated ADD is not a conflict with itself.
  CHECK(w.send(PodCommand::kAdd, "foo", "victim", 1, "10.244.1.20").verdict ==
        PodVerdict::kEnrolled);
}

TEST_CASE("an ADD with the IP of a pod whose netns is gone releases the stale pod first",
          "[enroller][ip-conflict]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "old", 1, "10.244.1.20").verdict ==
          PodVerdict::kEnrolled);
  w.inspector.gone.insert("/var/run/netns/pod-1");  // removed without a DEL
  auto r = w.send(PodCommand::kAdd, "foo", "new", 2, "10.244.1.20");
  CHECK(r.verdict == PodVerdict::kEnrolled);
  CHECK(w.store.saved.pods.count("uid-old") == 0);
  CHECK(w.store.saved.pods.at("uid-new").hostVeth.str() == "veth2");
  CHECK(w.enroller.enrolledCount() == 1);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.20"});
  auto in = w.enroller.planInput();
  REQUIRE(in);
  auto plan = computeNodePlan(*in);
  REQUIRE(plan);
  // The set element and the route via the new pod's veth match the plan.
  auto changes = verify(w.kernel, {kNode, NetnsRole::kNode}, *plan, w.ledger);
  REQUIRE(changes);
  std::string left;
  // (The fake kernel keeps the departed veth's sysctl; the real one is gone with the veth.)
  for (const auto& c : changes->changes) {
    if (!std::holds_alternative<SysctlSpec>(c.object)) left += describe(c.object) + "\n";
  }
  CHECK(left.empty());
}

TEST_CASE("a plain pod with a live pod's IP is not enrolled by a later label flip",
          "[enroller][ip-conflict]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "victim", 1, "10.244.1.20").verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "plain", "web", 2, "10.244.1.20").verdict ==
          PodVerdict::kNotAmbient);
  w.meta.meta.namespaces["plain"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  CHECK_FALSE(w.enroller.resync());
  CHECK_FALSE(w.store.saved.pods.at("uid-web").enrolled);
  auto in = w.enroller.planInput();
  REQUIRE(in);
  CHECK(computeNodePlan(*in));
}

TEST_CASE("a DEL with another pod's container ID and an unknown UID releases nothing",
          "[enroller]") {
  World w;
  w.registerZtunnel();
  REQUIRE(w.send(PodCommand::kAdd, "foo", "victim", 1, "10.244.1.20").verdict ==
          PodVerdict::kEnrolled);
  PodRequest r;
  r.command = PodCommand::kDel;
  r.containerId = "c-victim";
  r.podUid = "uid-attacker";
  CHECK(w.enroller.handle(r).verdict == PodVerdict::kReleased);  // DEL stays idempotent
  CHECK(w.store.saved.pods.at("uid-victim").enrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.20"});
}

TEST_CASE("a registry whose enrolled pod has a damaged IP or veth is refused at load",
          "[registry]") {
  PodRegistry r;
  r.pods["u1"] = PodRecord{"u1",   "foo",          "a",     "c1", "/var/run/netns/pod-1",
                           "eth0", {"10.244.5.8"}, "veth1", true};
  const std::string text = encodeRegistry(r);
  REQUIRE(decodeRegistry(text));
  // One changed byte, still valid JSON: refused naming the pod and the field.
  auto damage = [](std::string t, const std::string& from, const std::string& to) {
    auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  auto bad = decodeRegistry(damage(text, "10.244.5.8", "10.:44.5.8"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("foo/a ips") != std::string::npos);
  bad = decodeRegistry(damage(text, "\"veth1\"", "\"ve th1\""));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("foo/a hostVeth") != std::string::npos);
  PodRegistry journaled = r;
  CHECK_FALSE(applyChange(journaled, damage(encodePut(r.pods["u1"]), "veth1", "ve th1")));
  CHECK(journaled == r);
  // A pod that is not enrolled may have any address (dual-stack plain pods).
  PodRegistry plain = r;
  plain.pods["u1"].enrolled = false;
  plain.pods["u1"].ips = {"fd00::5"};
  CHECK(decodeRegistry(encodeRegistry(plain)));
  // An enrolled pod with only an IPv6 address is valid (IPv6-only nodes), one with no
  // address at all is damage.
  PodRegistry v6 = plain;
  v6.pods["u1"].enrolled = true;
  CHECK(decodeRegistry(encodeRegistry(v6)));
  PodRegistry none = v6;
  none.pods["u1"].ips.clear();
  CHECK_FALSE(decodeRegistry(encodeRegistry(none)));
}

// The node namespace of the fake kernel equals the plan of `enroller` (a restarted agent).
static void checkNodeMatchesPlan(Enroller& enroller, World& w) {
  auto in = enroller.planInput();
  REQUIRE(in);
  auto plan = computeNodePlan(*in);
  REQUIRE(plan);
  auto changes = verify(w.kernel, {kNode, NetnsRole::kNode}, *plan, w.ledger);
  REQUIRE(changes);
  CHECK(changes->empty());
}

TEST_CASE("a restarted agent re-reads each enrolled pod's host veth from the kernel",
          "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.2.1");
  PodRegistry damaged = w.store.saved;
  REQUIRE(damaged.pods.size() == 1);
  const std::string uid = damaged.pods.begin()->first;
  const IfName real = damaged.pods.begin()->second.hostVeth;
  damaged.pods.begin()->second.hostVeth = "vethr";  // one changed byte, still a valid name
  auto second = w.restarted();
  REQUIRE(second->start(damaged));
  CHECK(second->registry().pods.at(uid).hostVeth == real);
  CHECK(w.store.saved.pods.at(uid).hostVeth == real);
  checkNodeMatchesPlan(*second, w);
}

TEST_CASE("a restarted agent re-reads the ztunnel record's veth and node address from the kernel",
          "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.2.1");
  PodRegistry damaged = w.store.saved;
  damaged.ztunnel->hostVeth = "vethtt";  // one changed byte in registry.json
  damaged.ztunnel->nodeAddr = "10.244.1.9";
  auto second = w.restarted();
  REQUIRE(second->start(damaged));
  REQUIRE(second->registry().ztunnel);
  CHECK(second->registry().ztunnel->hostVeth.str() == "veth1");
  CHECK(second->registry().ztunnel->nodeAddr.str() == "10.244.1.1");
  CHECK(w.store.saved.ztunnel->hostVeth.str() == "veth1");
  checkNodeMatchesPlan(*second, w);
}

TEST_CASE("a restarted agent whose ztunnel is gone stays fail-closed and converges at its ADD",
          "[enroller]") {
  World w;
  w.registerZtunnel();
  w.send(PodCommand::kAdd, "foo", "a", 1, "10.244.2.1");
  // The ztunnel pod goes while the agent is down (or its record's netns path was damaged).
  w.kernel.namespaces.erase("/var/run/netns/zt-1");
  w.inspector.gone.insert("/var/run/netns/zt-1");
  auto second = w.restarted();
  CHECK_FALSE(second->start(w.store.saved));
  std::string why;
  CHECK_FALSE(second->ready(&why));
  CHECK_THAT(why, Catch::Contains("/var/run/netns/zt-1") && Catch::Contains("fail closed") &&
                      Catch::Contains("restart the ztunnel pod"));
  // Fail closed: the pod is still redirected toward ztunnel.
  CHECK(w.members() == std::vector<IpAddress>{"10.244.2.1"});
  // The ztunnel pod's next start: its ADD re-points the node and the agent is ready again.
  auto reply = second->handle(ztunnelAdd("/var/run/netns/zt-2", "10.244.1.4", "ztunnel-b"));
  CHECK(reply.verdict == PodVerdict::kNotAmbient);  // ztunnel itself is never redirected
  CHECK(second->ready(&why));
  CHECK(w.members() == std::vector<IpAddress>{"10.244.2.1"});
  CHECK(w.kernel.namespaces["/var/run/netns/zt-2"].owned.tunnels.size() == 2);
}

TEST_CASE("a pod whose veth is a bridge port is refused at ADD and by resync, never half-enrolled",
          "[enroller][link-shape]") {
  World w;
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  CHECK(r.verdict == PodVerdict::kError);
  CHECK(r.cniCode == kCniErrInvalidConfig);
  CHECK_THAT(r.message, Catch::Matchers::Contains("foo/sleep"));
  CHECK_THAT(r.message, Catch::Matchers::Contains("veth7 is a port of bridge cni0"));
  CHECK_THAT(r.message, Catch::Matchers::Contains("ztunnel's veth is on no bridge"));
  CHECK(w.members().empty());
  CHECK(w.store.saved.pods.count("uid-sleep") == 0);
  // Another pod of the same namespace, routed, is enrolled as before.
  REQUIRE(w.send(PodCommand::kAdd, "foo", "other", 8, "10.244.1.8").verdict ==
          PodVerdict::kEnrolled);

  // A plain pod on the bridge whose namespace is labelled later: refused by the pass and
  // reported, the routed pod untouched.
  w.inspector.masters["/var/run/netns/pod-9"] = LinkMaster{ifOf("cni0"), "bridge"};
  REQUIRE(w.send(PodCommand::kAdd, "bar", "httpbin", 9, "10.244.1.9").verdict ==
          PodVerdict::kNotAmbient);
  w.meta.meta.namespaces["bar"].labels = {{"istio.io/dataplane-mode", "ambient"}};
  (void)w.enroller.resync();
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.8"});
  CHECK_FALSE(w.store.saved.pods.at("uid-httpbin").enrolled);
  auto notEnrolled = w.enroller.notEnrolled();
  REQUIRE(notEnrolled.count("bar/httpbin") == 1);
  CHECK_THAT(notEnrolled.at("bar/httpbin"), Catch::Matchers::Contains("port of bridge cni0"));
}

TEST_CASE("a macvlan pod and a ztunnel pod in Open vSwitch are refused with code 7",
          "[enroller][link-shape]") {
  World w;
  w.inspector.masters["/var/run/netns/zt-1"] = LinkMaster{ifOf("ovs-system"), "openvswitch"};
  auto z = w.registerZtunnel();
  CHECK(z.cniCode == kCniErrInvalidConfig);
  CHECK_THAT(z.message, Catch::Matchers::Contains("ztunnel pod: its node-side veth"));
  CHECK_FALSE(w.enroller.ready(nullptr));
  w.inspector.masters.clear();
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);

  w.inspector.kinds["/var/run/netns/pod-7"] = "macvlan";
  auto r = w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7");
  CHECK(r.cniCode == kCniErrInvalidConfig);
  CHECK_THAT(r.message, Catch::Matchers::Contains("eth0 is a macvlan device, not a veth"));
  CHECK(w.members().empty());
}

TEST_CASE("ztunnel on a bridge: pods on its bridge are enrolled in bridge mode, others refused",
          "[enroller][link-shape][bridge]") {
  World w;
  w.registerZtunnelOnCni0();
  CHECK(w.node().owned.bridgeNft->family == NftFamily::kBridge);

  // A pod on ztunnel's bridge: enrolled, its IP in both tables' sets.
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  REQUIRE(w.send(PodCommand::kAdd, "foo", "sleep", 7, "10.244.1.7").verdict ==
          PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(w.node().owned.bridgeNft->sets[0].elements == w.members());
  // A routed pod on the same node: enrolled too, in both sets.
  REQUIRE(w.send(PodCommand::kAdd, "foo", "routed", 8, "10.244.1.8").verdict ==
          PodVerdict::kEnrolled);
  CHECK(w.node().owned.bridgeNft->sets[0].elements.size() == 2);

  // A pod on another bridge: refused naming both bridges, nothing programmed for it.
  w.inspector.masters["/var/run/netns/pod-9"] = LinkMaster{ifOf("br1"), "bridge"};
  auto r = w.send(PodCommand::kAdd, "foo", "elsewhere", 9, "10.244.1.9");
  CHECK(r.cniCode == kCniErrInvalidConfig);
  CHECK_THAT(r.message, Catch::Matchers::Contains("bridge br1, but ztunnel's veth is a port of "
                                                  "bridge cni0"));
  CHECK(w.members().size() == 2);

  // Release: the element leaves both sets.
  REQUIRE(w.send(PodCommand::kDel, "foo", "sleep", 7, "10.244.1.7").verdict ==
          PodVerdict::kReleased);
  CHECK(w.node().owned.bridgeNft->sets[0].elements == std::vector<IpAddress>{"10.244.1.8"});
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.8"});

  // The bridge recreated with another MAC: the next pass re-plans the hand-up rules.
  w.inspector.bridges["veth1"].mac = *MacAddr::parse("02:42:0a:f4:01:99");
  REQUIRE(w.enroller.reconcileAll());
  CHECK(renderNftTable(*w.node().owned.bridgeNft).find("ether daddr set 02:42:0a:f4:01:99") !=
        std::string::npos);
  // ztunnel's veth leaves the bridge: routed mode, the bridge table is removed.
  w.inspector.bridges.clear();
  REQUIRE(w.enroller.reconcileAll());
  CHECK_FALSE(w.node().owned.bridgeNft);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.8"});
}

TEST_CASE("ztunnel's bridge that cannot be read fails the pass with a reason",
          "[enroller][bridge][bad-input]") {
  World w;
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
  w.inspector.bridgeError =
      Error{ErrorCode::kInvalidInput, 0, "bridge cni0 has no IPv4 address with a pod network"};
  auto s = w.enroller.reconcileAll();
  REQUIRE_FALSE(s);
  std::string why;
  CHECK_FALSE(w.enroller.ready(&why));
  CHECK_THAT(why, Catch::Matchers::Contains("ztunnel's veth veth1 cannot be read in the node"));
  CHECK_THAT(why, Catch::Matchers::Contains("bridge cni0 has no IPv4 address"));
  w.inspector.bridgeError.reset();
  REQUIRE(w.enroller.reconcileAll());
  CHECK(w.enroller.ready(&why));
}

TEST_CASE("ztunnel's veth gone keeps the last bridge facts and the pass goes on",
          "[enroller][bridge][bad-input]") {
  World w;
  w.registerZtunnelOnCni0();
  // The ztunnel pod deleted: its veth is gone from the node. Ambient traffic stays captured
  // toward it (fail closed) and the node's drift is still repaired.
  w.inspector.bridgeError = Error{ErrorCode::kNotFound, 0, "veth veth1 in the node namespace"};
  w.kernel.namespaces[kNode].owned.rules.clear();
  REQUIRE(w.enroller.reconcileAll());
  CHECK(w.node().owned.bridgeNft);
  CHECK(w.node().owned.rules.size() == 5);
}

TEST_CASE("an enrolled pod whose veth moves to another bridge is released, and comes back",
          "[enroller][bridge][bad-input]") {
  World w;
  w.registerZtunnelOnCni0();
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  w.inspector.masters["/var/run/netns/pod-8"] = LinkMaster{ifOf("cni0"), "bridge"};
  REQUIRE(w.send(PodCommand::kAdd, "foo", "moved", 7, "10.244.1.7").verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "stays", 8, "10.244.1.8").verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(w.enroller.resync());
  CHECK(w.members().size() == 2);

  // veth7 moved to bridge br1 under the running agent: released by the next pass and reported;
  // the other pod keeps its element in both sets.
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("br1"), "bridge"};
  CHECK(w.enroller.resync());  // the release itself succeeded
  const std::vector<IpAddress> stays{"10.244.1.8"};
  CHECK(w.members() == stays);
  CHECK(w.node().owned.bridgeNft->sets[0].elements == stays);
  CHECK_FALSE(w.store.saved.pods.at("uid-moved").enrolled);
  CHECK(w.store.saved.pods.at("uid-stays").enrolled);
  auto out = w.enroller.notEnrolled();
  REQUIRE(out.count("foo/moved") == 1);
  CHECK_THAT(out.at("foo/moved"), Catch::Matchers::Contains("veth7 is a port of bridge br1, but "
                                                            "ztunnel's veth is a port of bridge "
                                                            "cni0"));
  // The next pass tries it again and fails with the same reason; nothing else changes.
  CHECK_FALSE(w.enroller.resync());
  CHECK(w.enroller.notEnrolled() == out);
  CHECK(w.members() == stays);

  // Moved back onto ztunnel's bridge: enrolled again.
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  REQUIRE(w.enroller.resync());
  CHECK(w.members().size() == 2);
  CHECK(w.enroller.notEnrolled().empty());

  // A veth that is gone (its pod being removed) is left to DEL and the API: still enrolled.
  w.inspector.masters.erase("/var/run/netns/pod-7");
  REQUIRE(w.enroller.resync());
  CHECK(w.members().size() == 2);
}

TEST_CASE("an enrolled routed pod whose veth becomes a bridge port is released",
          "[enroller][link-shape][bad-input]") {
  World w;
  REQUIRE(w.registerZtunnel().verdict == PodVerdict::kNotAmbient);
  w.inspector.routedPorts = {"/var/run/netns/zt-1", "/var/run/netns/pod-7", "/var/run/netns/pod-8"};
  REQUIRE(w.send(PodCommand::kAdd, "foo", "a", 7, "10.244.1.7").verdict == PodVerdict::kEnrolled);
  REQUIRE(w.send(PodCommand::kAdd, "foo", "b", 8, "10.244.1.8").verdict == PodVerdict::kEnrolled);
  REQUIRE(w.enroller.resync());
  CHECK(w.members().size() == 2);

  // The node's interfaces cannot be read: the pass fails with why, and nobody is released.
  w.inspector.portsError = Error{ErrorCode::kIo, 0, "netlink dump interrupted"};
  auto s = w.enroller.resync();
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message(), Catch::Matchers::Contains("veths cannot be checked"));
  CHECK(w.members().size() == 2);
  w.inspector.portsError.reset();

  w.inspector.routedPorts.erase("/var/run/netns/pod-8");
  w.inspector.masters["/var/run/netns/pod-8"] = LinkMaster{ifOf("ovs-system"), "openvswitch"};
  CHECK(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK_THAT(w.enroller.notEnrolled().at("foo/b"),
             Catch::Matchers::Contains("port of openvswitch device ovs-system"));
}

TEST_CASE("a pod with ztunnel's MAC on its bridge is refused with code 7, others enrolled",
          "[enroller][bridge][bad-input]") {
  World w;
  const MacAddr ztMac = *w.registerZtunnelOnCni0().ztunnelMac;
  CHECK(renderNftTable(*w.node().owned.bridgeNft)
            .find("iifname != \"veth1\" ether saddr 0a:58:0a:f4:01:03 counter drop") !=
        std::string::npos);

  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  w.inspector.macs["/var/run/netns/pod-7"] = ztMac;
  auto r = w.send(PodCommand::kAdd, "foo", "twin", 7, "10.244.1.7");
  CHECK(r.cniCode == kCniErrInvalidConfig);
  CHECK_THAT(r.message, Catch::Matchers::Contains("ambient pod foo/twin: its MAC address "
                                                  "0a:58:0a:f4:01:03 is also ztunnel's"));
  CHECK(w.members().empty());

  w.inspector.masters["/var/run/netns/pod-8"] = LinkMaster{ifOf("cni0"), "bridge"};
  w.inspector.macs["/var/run/netns/pod-8"] = *MacAddr::parse("0a:58:0a:f4:01:08");
  REQUIRE(w.send(PodCommand::kAdd, "foo", "other", 8, "10.244.1.8").verdict ==
          PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.8"});
}

TEST_CASE("a bridge renamed between passes does not make its pods look moved",
          "[enroller][bridge][bad-input]") {
  World w;
  w.registerZtunnelOnCni0();
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cni0"), "bridge"};
  REQUIRE(w.send(PodCommand::kAdd, "foo", "a", 7, "10.244.1.7").verdict == PodVerdict::kEnrolled);
  // cni0 renamed cbr0: a resync runs before the next full pass re-reads the bridge facts. The
  // dump shows ztunnel and the pod on the same bridge, so nothing is released.
  w.inspector.masters["/var/run/netns/zt-1"] = LinkMaster{ifOf("cbr0"), "bridge"};
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("cbr0"), "bridge"};
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(w.enroller.notEnrolled().empty());
  // ztunnel's veth missing from the dump (its pod restarting): nothing to judge against.
  w.inspector.masters.erase("/var/run/netns/zt-1");
  w.inspector.masters["/var/run/netns/pod-7"] = LinkMaster{ifOf("br1"), "bridge"};
  REQUIRE(w.enroller.resync());
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
}

// Issue 20: dual-stack pods, with ztunnel's IPv6 address known.
namespace {

PodReply registerDualStackZtunnel(World& w) {
  PodRequest z = ztunnelAdd("/var/run/netns/zt-1", "10.244.1.3", "ztunnel-a");
  z.ips.push_back("fd00:10:244:1::3");
  return w.enroller.handle(z);
}

std::vector<IpAddress> members6(World& w) {
  if (!w.node().owned.nft6) return {};
  return w.node().owned.nft6->sets[0].elements;
}

}  // namespace

TEST_CASE("a dual-stack pod is enrolled with both addresses and survives a restart",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.store.saved.ztunnel->ip6 == IpAddress("fd00:10:244:1::3"));
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 7, "10.244.1.7");
  r.ips.push_back("fd00:10:244:1::7");
  auto reply = w.enroller.handle(r);
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  // The ztunnel namespace got its IPv6 table as well.
  CHECK(w.kernel.namespaces["/var/run/netns/zt-1"].owned.nft6);
  // A restart from the persisted registry plans the same, both families.
  auto loaded = decodeRegistry(encodeRegistry(w.store.saved));
  REQUIRE(loaded);
  CHECK(loaded->ztunnel->ip6 == IpAddress("fd00:10:244:1::3"));
  auto again = w.restarted();
  REQUIRE(again->start(*loaded));
  REQUIRE(again->reconcileAll());
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  // DEL removes both.
  REQUIRE(again->handle(w.request(PodCommand::kDel, "foo", "dual", 7, "10.244.1.7")).verdict ==
          PodVerdict::kReleased);
  CHECK(w.members().empty());
  CHECK(members6(w).empty());
}

TEST_CASE("dual-stack bad input is refused with a reason and nothing half-enrolled",
          "[enroller][ipv6][bad-input]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  auto refused = [&](std::vector<IpAddress> ips, const std::string& words) {
    PodRequest r = w.request(PodCommand::kAdd, "foo", "bad", 8, "10.244.1.8");
    r.ips = std::move(ips);
    auto reply = w.enroller.handle(r);
    INFO(words << ": " << reply.message);
    CHECK(reply.verdict == PodVerdict::kError);
    CHECK(reply.cniCode == kCniErrInvalidConfig);
    CHECK(reply.message.find(words) != std::string::npos);
    CHECK(w.members().empty());
    CHECK(members6(w).empty());
    CHECK((!w.store.saved.pods.count("uid-bad") || !w.store.saved.pods.at("uid-bad").enrolled));
  };
  refused({"10.244.1.8", "fd00:10:244:1::8", "fd00:10:244:1::9"},
          "has two IPv6 addresses (fd00:10:244:1::8, fd00:10:244:1::9)");
  refused({"10.244.1.8", "fe80::8"}, "IPv6 address fe80::8 is link-local");
  refused({"10.244.1.8", "::ffff:10.244.1.8"}, "::ffff:10.244.1.8 is IPv4-mapped");
  refused({"10.244.1.8", "fd00:126::2"}, "fd00:126::2 is inside a tunnel network");
  refused({"10.244.1.8", "fd00:10:244:1::3"},
          "its IP fd00:10:244:1::3 is the ztunnel pod's; ztunnel is never redirected");
  refused({"10.244.1.3"}, "its IP 10.244.1.3 is the ztunnel pod's; ztunnel is never redirected");
}

TEST_CASE("on a dual-stack node a pod with an IPv6 address alone is enrolled with it",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "six", 7, "10.244.1.7");
  r.ips = {"fd00:10:244:1::7"};
  auto reply = w.enroller.handle(r);
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kEnrolled);
  CHECK(w.members().empty());
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  // No IPv4 route and no rp_filter entry for a pod without IPv4.
  CHECK(std::none_of(w.node().owned.routes.begin(), w.node().owned.routes.end(), [](auto& rt) {
    return rt.table == kTableInbound && rt.dst.family() == IpAddress::Family::kV4 &&
           rt.dst.len == 32 && rt.dev == kInboundTunnel;
  }));
  CHECK(std::none_of(w.node().owned.sysctls.begin(), w.node().owned.sysctls.end(),
                     [](auto& s) { return s.key == "net/ipv4/conf/veth7/rp_filter"; }));
  REQUIRE(w.enroller.handle(w.request(PodCommand::kDel, "foo", "six", 7, "10.244.1.7")).verdict ==
          PodVerdict::kReleased);
  CHECK(members6(w).empty());
}

// An IPv6-only node: ztunnel's pod has fd00:10:244:1::3 alone, its gateway (the ptp plugin's,
// on the host veth) fd00:10:244:1::1.
namespace {

PodReply registerIpv6OnlyZtunnel(World& w, const char* gateway = "fd00:10:244:1::1") {
  w.inspector.gateways["/var/run/netns/zt-1"] = *IpAddress::parse(gateway);
  PodRequest z = ztunnelAdd("/var/run/netns/zt-1", "10.244.1.3", "ztunnel-a");
  z.ips = {"fd00:10:244:1::3"};
  return w.enroller.handle(z);
}

}  // namespace

TEST_CASE("on an IPv6-only node the tunnels ride on IPv6 and IPv6 pods are enrolled",
          "[enroller][ipv6]") {
  World w;
  auto z = registerIpv6OnlyZtunnel(w);
  INFO(z.message);
  REQUIRE(z.verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.store.saved.ztunnel);
  CHECK(w.store.saved.ztunnel->ip == IpAddress("fd00:10:244:1::3"));
  CHECK(w.store.saved.ztunnel->nodeAddr == IpAddress("fd00:10:244:1::1"));
  CHECK(w.store.saved.ztunnel->ip6 == IpAddress("fd00:10:244:1::3"));
  // The node's tunnels point at ztunnel's IPv6 address, ztunnel's at the gateway; the MTU
  // leaves room for the 40-byte IPv6 header.
  REQUIRE(w.node().owned.tunnels.size() == 2);
  CHECK(w.node().owned.tunnels[0].remote == IpAddress("fd00:10:244:1::3"));
  CHECK(w.node().owned.tunnels[0].mtu == 1500 - kTunnelOverhead6);
  const auto& zt = w.kernel.namespaces["/var/run/netns/zt-1"].owned;
  REQUIRE(zt.tunnels.size() == 2);
  CHECK(zt.tunnels[0].remote == IpAddress("fd00:10:244:1::1"));
  // No IPv4 redirection object on either side.
  CHECK_FALSE(w.node().owned.nft);
  CHECK_FALSE(zt.nft);
  CHECK(zt.nft6);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "six", 7, "10.244.1.7");
  r.ips = {"fd00:10:244:1::7"};
  auto reply = w.enroller.handle(r);
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kEnrolled);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  CHECK_FALSE(w.enroller.failClosed(IpAddress::Family::kV4));
  CHECK_FALSE(w.enroller.failClosed(IpAddress::Family::kV6));
  // A pod with an IPv4 address is refused: ztunnel has none to redirect it to.
  PodRequest r4 = w.request(PodCommand::kAdd, "foo", "four", 8, "10.244.1.8");
  r4.ips = {"10.244.1.8", "fd00:10:244:1::8"};
  auto refused = w.enroller.handle(r4);
  CHECK(refused.verdict == PodVerdict::kError);
  CHECK(refused.cniCode == kCniErrInvalidConfig);
  CHECK(refused.message.find("has IPv4 address 10.244.1.8, but this node's ztunnel pod has none") !=
        std::string::npos);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  // A restart from the persisted registry plans the same.
  auto loaded = decodeRegistry(encodeRegistry(w.store.saved));
  INFO((loaded ? "" : loaded.error().message()));
  REQUIRE(loaded);
  auto before = w.node().owned;
  auto again = w.restarted();
  REQUIRE(again->start(*loaded));
  CHECK(w.node().owned == before);
  REQUIRE(again->handle(w.request(PodCommand::kDel, "foo", "six", 7, "10.244.1.7")).verdict ==
          PodVerdict::kReleased);
  CHECK(members6(w).empty());
}

TEST_CASE("an IPv6-only ztunnel whose gateway is link-local is refused with why",
          "[enroller][ipv6][bad-input]") {
  World w;
  auto reply = registerIpv6OnlyZtunnel(w, "fe80::1");
  INFO(reply.message);
  CHECK(reply.verdict == PodVerdict::kError);
  CHECK(reply.message.find("fe80::1 is link-local") != std::string::npos);
  CHECK_FALSE(w.store.saved.ztunnel);
}

TEST_CASE("pods with IPv4 on a ztunnel that came back IPv6-only have their IPv4 TCP dropped",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 7, "10.244.1.7");
  r.ips.push_back("fd00:10:244:1::7");
  REQUIRE(w.enroller.handle(r).verdict == PodVerdict::kEnrolled);
  // ztunnel's pod is recreated with an IPv6 address alone (the cluster moved to IPv6-only).
  REQUIRE(registerIpv6OnlyZtunnel(w).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.enroller.reconcileAll());
  // IPv6 follows ztunnel; IPv4 is dropped, never let past it.
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
  REQUIRE(w.node().owned.nft);
  CHECK(*w.node().owned.nft == nodeFailClosedTable(IpAddress::Family::kV4, {"10.244.1.7"}));
  CHECK(w.enroller.failClosed(IpAddress::Family::kV4) == "the ztunnel pod has no IPv4 address");
  CHECK_FALSE(w.enroller.failClosed(IpAddress::Family::kV6));
  CHECK(w.enroller.ready(nullptr));
  // Releasing the pod takes the drop table away.
  REQUIRE(w.enroller.handle(w.request(PodCommand::kDel, "foo", "dual", 7, "10.244.1.7")).verdict ==
          PodVerdict::kReleased);
  CHECK_FALSE(w.node().owned.nft);
  CHECK_FALSE(w.enroller.failClosed(IpAddress::Family::kV4));
}

TEST_CASE("a ztunnel pod with two IPv6 addresses is refused", "[enroller][ipv6][bad-input]") {
  World w;
  PodRequest z = ztunnelAdd("/var/run/netns/zt-1", "10.244.1.3", "ztunnel-a");
  z.ips.push_back("fd00:10:244:1::3");
  z.ips.push_back("fd00:10:244:1::4");
  auto reply = w.enroller.handle(z);
  INFO(reply.message);
  CHECK(reply.verdict == PodVerdict::kError);
  CHECK(reply.message.find("ztunnel pod has two IPv6 addresses") != std::string::npos);
  CHECK_FALSE(w.store.saved.ztunnel);
}

TEST_CASE("on a bridge without IPv6 a dual-stack ztunnel keeps IPv4 pods and refuses IPv6 ones",
          "[enroller][ipv6][bridge]") {
  World w;
  w.inspector.masters["/var/run/netns/zt-1"] = LinkMaster{"cni0", "bridge"};
  w.inspector.bridges["veth1"] =
      BridgeAttachment{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                       *Ipv4Prefix::parse("10.244.1.0/24"), *MacAddr::parse("0a:58:0a:f4:01:03")};
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.node().owned.bridgeNft);
  CHECK_FALSE(w.node().owned.nft6);
  CHECK(w.send(PodCommand::kAdd, "foo", "v4", 7, "10.244.1.7").verdict == PodVerdict::kEnrolled);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 8, "10.244.1.8");
  r.ips.push_back("fd00:10:244:1::8");
  auto reply = w.enroller.handle(r);
  INFO(reply.message);
  CHECK(reply.verdict == PodVerdict::kError);
  CHECK(reply.cniCode == kCniErrInvalidConfig);
  CHECK(reply.message.find("ztunnel's veth is a port of bridge cni0, which has no IPv6 address") !=
        std::string::npos);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  CHECK_FALSE(w.node().owned.nft6);
}

TEST_CASE("on a bridge with IPv6 a dual-stack pod is enrolled in both families",
          "[enroller][ipv6][bridge]") {
  World w;
  w.inspector.masters["/var/run/netns/zt-1"] = LinkMaster{"cni0", "bridge"};
  BridgeAttachment bridge{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                          *Ipv4Prefix::parse("10.244.1.0/24"),
                          *MacAddr::parse("0a:58:0a:f4:01:03")};
  bridge.subnet6 = *IpPrefix::parse("fd00:10:244:1::/64");
  w.inspector.bridges["veth1"] = bridge;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.node().owned.bridgeNft);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 8, "10.244.1.8");
  r.ips.push_back("fd00:10:244:1::8");
  auto reply = w.enroller.handle(r);
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.8"});
  REQUIRE(w.node().owned.nft6);
  CHECK(w.node().owned.nft6->sets.at(0).elements == std::vector<IpAddress>{"fd00:10:244:1::8"});
  const auto& sets = w.node().owned.bridgeNft->sets;
  REQUIRE(sets.size() == 2);
  CHECK(sets[1].name == kNftPodSet6);
  CHECK(sets[1].elements == std::vector<IpAddress>{"fd00:10:244:1::8"});
  CHECK(w.enroller.failClosed(IpAddress::Family::kV6) == std::nullopt);
  // Released: gone from both sets.
  CHECK(w.send(PodCommand::kDel, "foo", "dual", 8, "10.244.1.8").verdict != PodVerdict::kError);
  CHECK(w.node().owned.bridgeNft->sets.at(1).elements.empty());
  CHECK(w.node().owned.nft6->sets.at(0).elements.empty());
}

TEST_CASE("an IPv6 address on the pod's interface that the request leaves out is refused",
          "[enroller][ipv6][bad-input]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  // prevResult gave the IPv6 address no interface index: the plugin sent the IPv4 one alone.
  w.inspector.ipv6["/var/run/netns/pod-7"] = {IpAddress("fd00:10:244:1::7")};
  auto reply = w.send(PodCommand::kAdd, "foo", "app", 7, "10.244.1.7");
  INFO(reply.message);
  CHECK(reply.verdict == PodVerdict::kError);
  CHECK(reply.cniCode == kCniErrInvalidConfig);
  CHECK(reply.message.find("holds IPv6 address fd00:10:244:1::7, which the request does not "
                           "list") != std::string::npos);
  CHECK(w.members().empty());
  CHECK(members6(w).empty());
  // Listed, it is enrolled with both.
  PodRequest r = w.request(PodCommand::kAdd, "foo", "app", 7, "10.244.1.7");
  r.ips.push_back("fd00:10:244:1::7");
  CHECK(w.enroller.handle(r).verdict == PodVerdict::kEnrolled);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
}

// Issue 20: IPv6 that cannot be redirected is dropped (fail closed), never let through, and
// IPv4 stays redirected.
TEST_CASE("where this kernel cannot redirect IPv6 a dual-stack pod is enrolled fail closed",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.kernel.namespaces["/var/run/netns/zt-1"].owned.nft6);
  // The same node and registry under an agent whose start-up probe found no IPv6 redirection.
  const std::string why = "this kernel cannot redirect IPv6 (test)";
  std::vector<std::optional<std::string>> seen;
  EnrollerEvents events;
  events.failClosed = [&](IpAddress::Family family, const std::optional<std::string>& w6) {
    if (family == IpAddress::Family::kV6) seen.push_back(w6);
  };
  Enroller e(EnrollerConfig{{kNode, TunnelKind::kGeneve, 6081, 0, why}, {}}, w.kernel, w.ledger,
             w.store, w.inspector, w.meta, events, nullptr, nullptr, &w.clock);
  REQUIRE(e.start(w.store.saved));
  // No IPv6 object of the redirection is left in ztunnel's namespace.
  CHECK_FALSE(w.kernel.namespaces["/var/run/netns/zt-1"].owned.nft6);
  CHECK_FALSE(e.failClosed(IpAddress::Family::kV6));
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 7, "10.244.1.7");
  r.ips.push_back("fd00:10:244:1::7");
  auto reply = e.handle(r);
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kEnrolled);
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  REQUIRE(w.node().owned.nft6);
  CHECK(*w.node().owned.nft6 == nodeFailClosedTable(IpAddress::Family::kV6, {"fd00:10:244:1::7"}));
  CHECK(std::none_of(w.node().owned.routes.begin(), w.node().owned.routes.end(),
                     [](auto& r6) { return r6.dst.family() == IpAddress::Family::kV6; }));
  CHECK(e.failClosed(IpAddress::Family::kV6) == why);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == why);
  // A second one goes into the same set; DEL of both takes the table away.
  PodRequest r2 = w.request(PodCommand::kAdd, "foo", "dual2", 8, "10.244.1.8");
  r2.ips.push_back("fd00:10:244:1::8");
  REQUIRE(e.handle(r2).verdict == PodVerdict::kEnrolled);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7", "fd00:10:244:1::8"});
  REQUIRE(e.handle(w.request(PodCommand::kDel, "foo", "dual", 7, "10.244.1.7")).verdict ==
          PodVerdict::kReleased);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::8"});
  REQUIRE(e.handle(w.request(PodCommand::kDel, "foo", "dual2", 8, "10.244.1.8")).verdict ==
          PodVerdict::kReleased);
  CHECK_FALSE(w.node().owned.nft6);
  CHECK_FALSE(e.failClosed(IpAddress::Family::kV6));
  CHECK(seen.back() == std::nullopt);
}

TEST_CASE("a ztunnel back without IPv6 keeps IPv4 redirected and drops the pods' IPv6 TCP",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  PodRequest r = w.request(PodCommand::kAdd, "foo", "dual", 7, "10.244.1.7");
  r.ips.push_back("fd00:10:244:1::7");
  REQUIRE(w.enroller.handle(r).verdict == PodVerdict::kEnrolled);
  REQUIRE(w.node().owned.nft6);
  REQUIRE_FALSE(w.enroller.failClosed(IpAddress::Family::kV6));
  // ztunnel's pod is recreated with an IPv4 address only (its IPv6 pool ran out, say).
  auto reply = w.addZtunnel("ztunnel-b", "10.244.1.4", "/var/run/netns/zt-2");
  INFO(reply.message);
  REQUIRE(reply.verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.enroller.reconcileAll());
  // IPv4 follows the new ztunnel.
  CHECK(w.node().owned.tunnels.at(0).remote == IpAddress("10.244.1.4"));
  CHECK(w.members() == std::vector<IpAddress>{"10.244.1.7"});
  // IPv6: no route to the old ztunnel's address, the pod's TCP dropped.
  CHECK(std::none_of(w.node().owned.routes.begin(), w.node().owned.routes.end(),
                     [](auto& r6) { return r6.dst.family() == IpAddress::Family::kV6; }));
  REQUIRE(w.node().owned.nft6);
  CHECK(*w.node().owned.nft6 == nodeFailClosedTable(IpAddress::Family::kV6, {"fd00:10:244:1::7"}));
  CHECK(w.enroller.failClosed(IpAddress::Family::kV6) == "the ztunnel pod has no IPv6 address");
  CHECK(w.enroller.ready(nullptr));
  // A new IPv6 pod is refused while ztunnel has no IPv6 (it would start with its IPv6 dead).
  PodRequest r2 = w.request(PodCommand::kAdd, "foo", "dual2", 8, "10.244.1.8");
  r2.ips.push_back("fd00:10:244:1::8");
  CHECK(w.enroller.handle(r2).verdict == PodVerdict::kError);
  // ztunnel back with IPv6: redirected again.
  PodRequest z = ztunnelAdd("/var/run/netns/zt-1", "10.244.1.3", "ztunnel-a");
  z.ips.push_back("fd00:10:244:1::3");
  REQUIRE(w.enroller.handle(z).verdict == PodVerdict::kNotAmbient);
  REQUIRE(w.enroller.reconcileAll());
  CHECK_FALSE(w.enroller.failClosed(IpAddress::Family::kV6));
  REQUIRE(w.node().owned.nft6);
  CHECK(w.node().owned.nft6->chains.size() > 1);
  CHECK(members6(w) == std::vector<IpAddress>{"fd00:10:244:1::7"});
}

// Records that each decode but cannot be planned together (here two enrolled pods with one
// IPv6 address) leave the agent not ready with the plan's reason, never ready and unplanned.
TEST_CASE("a registry no plan can use makes the agent not ready with the reason",
          "[enroller][ipv6]") {
  World w;
  REQUIRE(registerDualStackZtunnel(w).verdict == PodVerdict::kNotAmbient);
  for (int n : {7, 8}) {
    PodRequest r = w.request(PodCommand::kAdd, "foo", "dual" + std::to_string(n), n,
                             "10.244.1." + std::to_string(n));
    r.ips.push_back(*IpAddress::parse("fd00:10:244:1::" + std::to_string(n)));
    REQUIRE(w.enroller.handle(r).verdict == PodVerdict::kEnrolled);
  }
  PodRegistry damaged = w.store.saved;
  for (auto& [uid, pod] : damaged.pods) {
    for (auto& ip : pod.ips) {
      if (ip == IpAddress("fd00:10:244:1::8")) ip = IpAddress("fd00:10:244:1::7");
    }
  }
  auto again = w.restarted();
  CHECK_FALSE(again->start(damaged));
  std::string why;
  CHECK_FALSE(again->ready(&why));
  CHECK(why.find("fd00:10:244:1::7 is enrolled twice") != std::string::npos);
}
