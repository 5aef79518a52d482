// The agent's decisions over the seams. Pure logic.
#include "node-agent/core/enroller.h"

#include <algorithm>
#include <set>

#include "common/core/reconcile.h"
#include "node-agent/core/link_shape.h"
#include "node-agent/core/plan_input.h"

namespace ambient {
namespace {

const SteadyClock kSteadyClock;

// How messages name a pod the agent would enroll: "ambient pod <namespace>/<name>".
std::string podLabel(const PodRecord& rec) {
  return "ambient pod " + rec.podNamespace + "/" + rec.name;
}

PodReply reply(PodVerdict v, std::string message) {
  return PodReply{v, 0, std::move(message)};
}

// The registry key of a discovered pod whose source knows no UID (the metadata file).
constexpr std::string_view kDiscoveredUidPrefix = "discovered:";

bool sameAddresses(std::vector<IpAddress> a, std::vector<IpAddress> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

Enroller::Enroller(EnrollerConfig config, KernelPort& kernel, SysctlLedger& ledger,
                   RegistryStore& store, PodInspector& inspector, MetadataSource& metadata,
                   EnrollerEvents events, PodAnnotator* annotator, NetnsScanner* scanner,
                   const Clock* clock)
    : config_(std::move(config)),
      kernel_(kernel),
      ledger_(ledger),
      store_(store),
      inspector_(inspector),
      metadata_(metadata),
      events_(std::move(events)),
      annotator_(annotator),
      scanner_(scanner),
      clock_(clock ? *clock : kSteadyClock) {}

Status Enroller::start(PodRegistry loaded) {
  std::lock_guard lock(mu_);
  registry_ = std::move(loaded);
  enrolledCount_ = registry_.enrolled().size();
  started_ = true;
  if (registry_.ztunnel) {
    // The ztunnel record's host veth, node address and MTU were read from the kernel at its
    // ADD: read them again, so an outdated or damaged copy cannot keep the node from
    // converging. (When its namespace cannot be inspected the record stays as it is.)
    ZtunnelRecord z = *registry_.ztunnel;
    if (auto link = inspector_.inspect(z.netns, z.podIfname); link && link->gateway) {
      z.hostVeth = link->hostVeth;
      z.nodeAddr = *link->gateway;
      z.lowerMtu = link->mtu;
      if (z != *registry_.ztunnel && validateZtunnelRecord(z) && store_.setZtunnel(z))
        registry_.ztunnel = z;
    }
  }
  // Likewise each enrolled pod's host veth (its rp_filter and route name it).
  std::vector<PodRecord> refreshed;
  for (const PodRecord* pod : registry_.enrolled()) {
    auto link = inspector_.inspect(pod->netns, pod->ifname);
    if (!link || link->hostVeth.empty() || link->hostVeth == pod->hostVeth) continue;
    refreshed.push_back(*pod);
    refreshed.back().hostVeth = link->hostVeth;
  }
  for (const PodRecord& pod : refreshed) (void)store(pod);  // a failed save keeps the old copy
  return reconcileLocked();
}

PodReply Enroller::handle(const PodRequest& r) {
  auto t0 = clock_.now();
  PodReply out;
  {
    std::lock_guard lock(mu_);
    switch (r.command) {
      case PodCommand::kAdd:
        out = add(r);
        break;
      case PodCommand::kDel:
        out = del(r);
        break;
      case PodCommand::kCheck:
        out = check(r);
        break;
      case PodCommand::kStatus:
        out = status();
        break;
      case PodCommand::kGc:
        out = gc(r);
        break;
    }
  }
  if (events_.handled)
    events_.handled(r.command, std::chrono::duration<double>(clock_.now() - t0).count());
  return out;
}

PodReply Enroller::errorReply(uint32_t code, std::string message, const std::string& kind) {
  if (events_.error) events_.error(kind);
  return PodReply{PodVerdict::kError, code, std::move(message)};
}

PodReply Enroller::add(const PodRequest& r) {
  if (r.podUid.empty() || r.podNamespace.empty() || r.podName.empty()) {
    return errorReply(kCniErrInvalidEnv,
                      "ADD without K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID", "bad-request");
  }
  if (r.ifname != config_.podIfname) {
    return reply(PodVerdict::kNotAmbient,
                 "interface " + r.ifname.str() + " is not the pod's default network interface (" +
                     config_.podIfname.str() + "; a secondary network?): left alone");
  }
  SnapshotPtr meta = metadata_.snapshot();
  if (!meta->ready) {
    return errorReply(kCniErrTryAgainLater,
                      "pod " + r.podNamespace + "/" + r.podName +
                          " cannot be classified yet: " + meta->notReadyReason,
                      "metadata-not-ready");
  }
  Membership m = classifyPod(r.podNamespace, r.podName, *meta, config_.policy);
  if (m.role == PodRole::kZtunnel) return addZtunnel(r);

  PodRecord rec{r.podUid, r.podNamespace, r.podName, r.containerId, r.netns,
                r.ifname, r.ips,          {},        false};
  if (m.role == PodRole::kNotAmbient) {
    if (auto refused = claimIpsLocked(r, false)) return *refused;
    // Remembered so that a later label flip can enroll it without a restart.
    if (auto s = store(rec); !s) return errorReply(kCniErrIo, s.error().message(), "persist");
    return reply(PodVerdict::kNotAmbient, m.reason);
  }
  if (!registry_.ztunnel) {
    return errorReply(kCniErrTryAgainLater,
                      "ambient pod " + r.podNamespace + "/" + r.podName +
                          " cannot start yet: no ztunnel pod is running on this node (the runtime "
                          "retries; check the ztunnel DaemonSet)",
                      "ztunnel-not-ready");
  }
  if (auto refused = claimIpsLocked(r, true)) return *refused;
  if (auto failed = enrollLocked(rec)) {
    return errorReply(failed->cniCode, failed->error.wrap(podLabel(rec)).message(), failed->kind);
  }
  return reply(PodVerdict::kEnrolled, m.reason);
}

std::optional<Enroller::EnrollFailure> Enroller::enrollLocked(PodRecord rec) {
  auto refuse = [&](uint32_t code, const char* kind, ErrorCode ec, std::string why) {
    return EnrollFailure{code, kind, Error{ec, 0, std::move(why)}};
  };
  if (!registry_.ztunnel) {
    return refuse(kCniErrTryAgainLater, "ztunnel-not-ready", ErrorCode::kUnavailable,
                  "waits for a ztunnel pod on this node");
  }
  if (rec.ips.empty()) {
    return refuse(kCniErrInvalidConfig, "bad-request", ErrorCode::kInvalidInput,
                  "has no IP address on " + rec.ifname.str());
  }
  auto addresses = podAddresses(rec.ips);
  if (!addresses) {
    return refuse(kCniErrInvalidConfig, "bad-request", ErrorCode::kInvalidInput,
                  addresses.error().message());
  }
  for (const auto& ip : rec.ips) {
    if (ip == registry_.ztunnel->ip || ip == registry_.ztunnel->ip6) {
      return refuse(kCniErrInvalidConfig, "ip-conflict", ErrorCode::kExists,
                    "its IP " + ip.str() +
                        " is the ztunnel pod's; ztunnel is never redirected (check the IPAM "
                        "plugin)");
    }
  }
  // Enrolling one family alone would let the other bypass ztunnel.
  if (addresses->v4 && !registry_.ztunnel->ip.isV4()) {
    return refuse(kCniErrInvalidConfig, "bad-request", ErrorCode::kInvalidInput,
                  "has IPv4 address " + addresses->v4->str() +
                      ", but this node's ztunnel pod has none (an IPv6-only node): its IPv4 "
                      "could not be redirected");
  }
  if (addresses->v6 && !registry_.ztunnel->ip6) {
    return refuse(kCniErrInvalidConfig, "bad-request", ErrorCode::kInvalidInput,
                  "has IPv6 address " + addresses->v6->str() +
                      ", but this node's ztunnel pod has none: its IPv6 could not be redirected");
  }
  if (addresses->v6 && ztunnelBridge_ && !ztunnelBridge_->subnet6) {
    return refuse(kCniErrInvalidConfig, "unsupported-link", ErrorCode::kUnsupported,
                  "has IPv6 address " + addresses->v6->str() +
                      ", but ztunnel's veth is a port of " + "bridge " +
                      ztunnelBridge_->bridge.str() +
                      ", which has no IPv6 address: the bridge's pods have no IPv6 gateway in "
                      "the node, so their IPv6 could not be redirected");
  }
  if (const PodRecord* other = enrolledWithIp(rec.ips, rec.uid)) {
    return refuse(kCniErrInvalidConfig, "ip-conflict", ErrorCode::kExists,
                  "its IP is enrolled for pod " + other->podNamespace + "/" + other->name +
                      " (uid " + other->uid + "); one IP cannot be redirected for two pods");
  }
  auto link = inspector_.inspect(rec.netns, rec.ifname);
  if (!link) return EnrollFailure{kCniErrIo, "inspect", link.error()};
  for (const auto& held : link->ipv6) {
    if (std::find(rec.ips.begin(), rec.ips.end(), held) == rec.ips.end()) {
      // prevResult left it out (e.g. an address without an interface index): enrolling the
      // others alone would let this one bypass ztunnel.
      return refuse(kCniErrInvalidConfig, "bad-request", ErrorCode::kInvalidInput,
                    "its interface " + rec.ifname.str() + " holds IPv6 address " + held.str() +
                        ", which the request does not list for it (a prevResult address without "
                        "an interface index is not taken as the pod's); enrolling the others "
                        "alone would let it bypass ztunnel");
    }
  }
  std::optional<IfName> ztBridge;
  if (ztunnelBridge_) ztBridge = ztunnelBridge_->bridge;
  if (auto c = checkCapturable(*link, rec.ifname, ztBridge); !c) {
    return refuse(kCniErrInvalidConfig, "unsupported-link", c.error().code, c.error().message());
  }
  if (auto c = checkMacOnBridge(*link, ztunnelBridge_); !c) {
    return refuse(kCniErrInvalidConfig, "mac-conflict", c.error().code, c.error().message());
  }
  rec.hostVeth = link->hostVeth;
  rec.enrolled = true;
  // Never write a record the loader would refuse: a restart could not load the registry.
  if (auto v = validatePodRecord(rec); !v) {
    return EnrollFailure{kCniErrInvalidConfig, "bad-request", v.error()};
  }
  if (auto s = store(rec); !s) return EnrollFailure{kCniErrIo, "persist", s.error()};
  if (auto s = applyPodChangeLocked(rec, true); !s) {
    return EnrollFailure{kCniErrTryAgainLater, "reconcile",
                         Error{s.error().code, s.error().sysErrno,
                               "its redirection could not be programmed: " + s.error().message()}};
  }
  if (annotator_) annotator_->markEnrolled(rec.podNamespace, rec.name, true);
  return std::nullopt;
}

Status Enroller::releaseLocked(const PodRecord& rec) {
  PodRecord removed = rec;
  if (auto s = forget(removed.uid); !s) return s;
  if (removed.enrolled) {
    if (auto s = applyPodChangeLocked(removed, false); !s) return s;
    if (annotator_) annotator_->markEnrolled(removed.podNamespace, removed.name, false);
  }
  return {};
}

const PodRecord* Enroller::enrolledWithIp(const std::vector<IpAddress>& ips,
                                          const std::string& uid) const {
  for (const PodRecord* other : registry_.enrolled()) {
    if (other->uid == uid) continue;
    for (const auto& ip : ips) {
      if (std::find(other->ips.begin(), other->ips.end(), ip) != other->ips.end()) return other;
    }
  }
  return nullptr;
}

std::optional<PodReply> Enroller::claimIpsLocked(const PodRequest& r, bool ambient) {
  std::vector<PodRecord> holders;
  for (const auto& [uid, other] : registry_.pods) {
    if (uid == r.podUid) continue;
    for (const auto& ip : r.ips) {
      if (std::find(other.ips.begin(), other.ips.end(), ip) != other.ips.end()) {
        holders.push_back(other);
        break;
      }
    }
  }
  for (const PodRecord& other : holders) {
    const std::string pod = other.podNamespace + "/" + other.name;
    if (inspector_.netnsGone(other.netns)) {
      // host-local hands an IP out again only after it was released: the holder was removed
      // without a DEL reaching us. Release it first so the node never has the IP twice.
      if (auto s = forget(other.uid); !s)
        return errorReply(kCniErrIo, s.error().message(), "persist");
      if (other.enrolled) {
        if (auto s = applyPodChangeLocked(other, false); !s) {
          return errorReply(kCniErrTryAgainLater,
                            "stale pod " + pod + " could not be released: " + s.error().message(),
                            "reconcile");
        }
      }
      if (events_.resynced) {
        events_.resynced(other, false,
                         "its network namespace " + other.netns + " is gone and pod " +
                             r.podNamespace + "/" + r.podName + " now has its IP");
      }
      continue;
    }
    if (ambient && other.enrolled) {
      return errorReply(kCniErrInvalidConfig,
                        "ambient pod " + r.podNamespace + "/" + r.podName + ": IP " +
                            other.ips.front().str() + " in prevResult belongs to enrolled pod " +
                            pod + " (uid " + other.uid + ", netns " + other.netns +
                            " still exists); one IP cannot be redirected for two pods (check the "
                            "IPAM plugin)",
                        "ip-conflict");
    }
  }
  return std::nullopt;
}

PodReply Enroller::addZtunnel(const PodRequest& r) {
  if (r.ips.empty()) {
    return errorReply(kCniErrInvalidConfig, "ztunnel pod has no IP address in prevResult",
                      "bad-request");
  }
  auto addresses = podAddresses(r.ips);
  if (!addresses) {
    return errorReply(kCniErrInvalidConfig, "ztunnel pod " + addresses.error().message(),
                      "bad-request");
  }
  auto link = inspector_.inspect(r.netns, r.ifname);
  if (!link) return errorReply(kCniErrIo, "ztunnel pod: " + link.error().message(), "inspect");
  if (auto c = checkZtunnelLink(*link, r.ifname); !c) {
    return errorReply(kCniErrInvalidConfig, "ztunnel pod: " + c.error().message(),
                      "unsupported-link");
  }
  if (!link->gateway) {
    return errorReply(kCniErrIo, "ztunnel pod has no default gateway in " + r.netns, "inspect");
  }
  // Its IPv4 address, or on an IPv6-only node its IPv6 one: the gateway is then IPv6 too.
  const IpAddress ip = addresses->v4 ? IpAddress::fromV4(*addresses->v4) : *addresses->v6;
  ZtunnelRecord z{r.podUid,       r.netns,  ip,        link->hostVeth,
                  *link->gateway, r.ifname, link->mtu, addresses->v6};
  // Never write a record the loader would refuse: a restart could not load the registry.
  if (auto v = validateZtunnelRecord(z); !v) {
    return errorReply(kCniErrInvalidConfig, "ztunnel pod: " + v.error().message(), "bad-request");
  }
  if (auto s = store_.setZtunnel(z); !s)
    return errorReply(kCniErrIo, s.error().message(), "persist");
  registry_.ztunnel = z;
  // Re-points the node's tunnels at the new ztunnel; enrolled pods stay enrolled.
  if (auto s = reconcileLocked(); !s) {
    return errorReply(
        kCniErrTryAgainLater,
        "ztunnel pod registered but the node could not be programmed: " + s.error().message(),
        "reconcile");
  }
  return reply(PodVerdict::kNotAmbient,
               "ztunnel pod registered; node re-pointed at " + r.ips[0].str());
}

PodReply Enroller::del(const PodRequest& r) {
  if (!r.ifname.empty() && r.ifname != config_.podIfname) {
    return reply(PodVerdict::kReleased, "interface " + r.ifname.str() +
                                            " is not the pod's default network interface (" +
                                            config_.podIfname.str() + "): the pod stays as it is");
  }
  if (registry_.ztunnel && !r.podUid.empty() && registry_.ztunnel->uid == r.podUid) {
    // The tunnels keep pointing at the departed ztunnel: ambient traffic stops, never leaks,
    // until the next ztunnel pod registers.
    return reply(PodVerdict::kReleased, "ztunnel pod removed; ambient traffic waits for the next");
  }
  const PodRecord* rec = nullptr;
  if (auto it = registry_.pods.find(r.podUid); !r.podUid.empty() && it != registry_.pods.end()) {
    rec = &it->second;
  } else {
    rec = registry_.byContainer(r.containerId);
    // The runtime sends the UID it sent with the ADD: a DEL naming another UID is not this
    // record's, whatever container ID it carries.
    if (rec && !r.podUid.empty() && rec->uid != r.podUid) rec = nullptr;
  }
  if (!rec && !r.podNamespace.empty()) {
    // A pod the discovery pass enrolled without a UID (metadata file): known by its name.
    for (const auto& [uid, p] : registry_.pods) {
      if (p.uid.starts_with(kDiscoveredUidPrefix) && p.podNamespace == r.podNamespace &&
          p.name == r.podName) {
        rec = &p;
        break;
      }
    }
  }
  if (!rec) return reply(PodVerdict::kReleased, "pod was not known to the agent");
  PodRecord removed = *rec;
  bool wasEnrolled = removed.enrolled;
  if (auto s = forget(removed.uid); !s)
    return errorReply(kCniErrIo, s.error().message(), "persist");
  if (wasEnrolled) {
    if (auto s = applyPodChangeLocked(removed, false); !s) {
      return errorReply(kCniErrTryAgainLater, "release failed: " + s.error().message(),
                        "reconcile");
    }
  }
  return reply(PodVerdict::kReleased, wasEnrolled ? "redirection removed" : "pod forgotten");
}

PodReply Enroller::status() {
  std::string why = notReadyLocked();
  if (SnapshotPtr meta = metadata_.snapshot(); why.empty() && !meta->ready) {
    why = meta->notReadyReason;  // an ADD now would be refused (code 11) for this reason
  }
  if (why.empty()) return reply(PodVerdict::kReady, "ready");
  return PodReply{PodVerdict::kError, kCniErrPluginNotAvailable,
                  "ambient-agent cannot enroll pods now: " + why};
}

PodReply Enroller::gc(const PodRequest& r) {
  std::set<Attachment> valid(r.validAttachments.begin(), r.validAttachments.end());
  std::vector<PodRecord> stale;
  for (const auto& [uid, p] : registry_.pods) {
    // Pods the discovery pass found carry no container ID: the API decides about them.
    if (p.containerId.empty()) continue;
    if (!valid.count(Attachment{p.containerId, p.ifname})) stale.push_back(p);
  }
  size_t released = 0;
  for (const PodRecord& p : stale) {
    if (auto s = releaseLocked(p); !s) {
      return errorReply(
          kCniErrTryAgainLater,
          "GC could not release pod " + p.podNamespace + "/" + p.name + ": " + s.error().message(),
          "reconcile");
    }
    ++released;
    if (events_.resynced) {
      events_.resynced(p, false,
                       "container " + p.containerId +
                           " is not among the runtime's "
                           "valid attachments (CNI GC)");
    }
  }
  return reply(PodVerdict::kReleased, "GC released " + std::to_string(released) + " of " +
                                          std::to_string(registry_.pods.size() + released) +
                                          " registered pod(s)");
}

PodReply Enroller::check(const PodRequest& r) {
  if (r.ifname != config_.podIfname) {
    return reply(PodVerdict::kNotAmbient, "interface " + r.ifname.str() + " is not redirected");
  }
  auto it = registry_.pods.find(r.podUid);
  if (it == registry_.pods.end() || !it->second.enrolled) {
    return reply(PodVerdict::kNotAmbient, "pod is not enrolled");
  }
  auto in = planInputFrom(registry_, config_.runtime, ztunnelBridge_);
  if (!in) return errorReply(kCniErrTryAgainLater, in.error().message(), "check");
  auto plan = computeNodePlan(*in);
  if (!plan) return errorReply(kCniErrInvalidConfig, plan.error().message(), "check");
  auto changes = verify(kernel_, {config_.runtime.nodeNetns, NetnsRole::kNode}, *plan, ledger_);
  if (!changes) return errorReply(kCniErrIo, changes.error().message(), "check");
  if (!changes->empty()) {
    return errorReply(kCniErrTryAgainLater,
                      std::to_string(changes->changes.size()) +
                          " redirection object(s) of this node differ from the agent's plan; the "
                          "agent's next pass repairs them",
                      "check");
  }
  return reply(PodVerdict::kEnrolled, "redirection verified");
}

Status Enroller::resync() {
  std::lock_guard lock(mu_);
  if (!started_) return {};
  SnapshotPtr meta = metadata_.snapshot();
  if (!meta->ready) return {};  // nothing can be decided; existing pods stay as they are
  Status first;
  auto keep = [&](Status s, const std::string& kind) {
    if (s) return;
    if (events_.error) events_.error(kind);
    if (first) first = std::move(s);
  };
  std::map<std::string, std::string> notEnrolled;
  // Enrolled pods' host veths are checked again on every pass, with one dump of the node's
  // interfaces: a veth moved to another bridge (or under Open vSwitch) is no longer captured.
  std::optional<std::map<IfName, std::optional<LinkMaster>>> ports;
  if (enrolledCount_ > 0) {
    auto read = inspector_.nodePortMasters();
    if (read) {
      ports = std::move(*read);
    } else {
      keep(fail(read.error().wrap("enrolled pods' veths cannot be checked")), "inspect");
    }
  }
  std::vector<PodRecord> pods;
  pods.reserve(registry_.pods.size());
  for (const auto& [uid, p] : registry_.pods) pods.push_back(p);
  for (PodRecord& rec : pods) {
    const PodMeta* pm = meta->pod(rec.podNamespace, rec.name);
    auto registered = registeredAt_.find(rec.uid);
    bool recent = registered != registeredAt_.end() &&
                  clock_.now() - registered->second < config_.deletionGrace;
    bool gone = meta->complete && !recent && (!pm || (!pm->uid.empty() && pm->uid != rec.uid));
    if (gone) {
      // Deleted while no DEL reached us (agent down, runtime crash): release and forget.
      keep(forget(rec.uid), "persist");
      if (rec.enrolled) keep(applyPodChangeLocked(rec, false), "reconcile");
      if (events_.resynced) events_.resynced(rec, false, "pod no longer exists in the API");
      continue;
    }
    const std::string key = rec.podNamespace + "/" + rec.name;
    if (auto local = meta->nodePods.find(key);
        rec.containerId.empty() && local != meta->nodePods.end() && !local->second.ips.empty() &&
        !sameAddresses(local->second.ips, rec.ips)) {
      // A pod the discovery pass found has other addresses now: release it; the discovery
      // below finds it again with the new ones (a pod enrolled by ADD follows its runtime).
      keep(releaseLocked(rec), "resync");
      if (events_.resynced) {
        events_.resynced(rec, false,
                         "its IP changed (API: " + local->second.ips.front().str() +
                             ", enrolled: " + (rec.ips.empty() ? "none" : rec.ips.front().str()) +
                             ")");
      }
      continue;
    }
    Membership m = classifyPod(rec.podNamespace, rec.name, *meta, config_.policy);
    bool want = m.role == PodRole::kAmbient;
    if (want && rec.enrolled && ports) {
      if (auto moved = uncapturablePort(rec, *ports)) {
        // Released, never left half-enrolled; it is tried again on every pass and enrolled
        // again once its veth is back on ztunnel's bridge (or routed).
        notEnrolled[key] = *moved;
        keep(setEnrolledLocked(std::move(rec), false, *moved), "resync");
        continue;
      }
    }
    if (want == rec.enrolled) {
      // The mark other nodes' agents read (they count our pod as ambient by it) was lost: an
      // object replaced by `kubectl replace` or `apply`. Mark it again; the annotator reads the
      // pod first and never overwrites a user's value.
      if (want && annotator_ && pm != nullptr && !pm->annotations.contains(kRedirectionAnnotation))
        annotator_->markEnrolled(rec.podNamespace, rec.name, true);
      continue;
    }
    std::string label = podLabel(rec);
    Status s = setEnrolledLocked(std::move(rec), want, m.reason);
    if (!s && want) notEnrolled[key] = s.error().message();
    keep(s ? s : fail(s.error().wrap(label)), "resync");
  }
  keep(discoverLocked(*meta, notEnrolled), "discovery");
  if (events_.notEnrolled) {
    for (const auto& [pod, why] : notEnrolled) {
      auto before = notEnrolled_.find(pod);
      if (before == notEnrolled_.end() || before->second != why) events_.notEnrolled(pod, why);
    }
  }
  notEnrolled_ = std::move(notEnrolled);
  return first;
}

Status Enroller::discoverLocked(const MetadataSnapshot& meta,
                                std::map<std::string, std::string>& notEnrolled) {
  std::vector<DiscoveryCandidate> candidates =
      computeDiscoveryCandidates(meta, registry_, config_.policy);
  if (candidates.empty()) return {};
  if (!scanner_) {
    for (const auto& c : candidates) notEnrolled[c.key()] = "never seen through CNI (no scan)";
    return {};
  }
  if (!registry_.ztunnel) {
    for (const auto& c : candidates) notEnrolled[c.key()] = "waits for a ztunnel pod on this node";
    return {};
  }
  auto scan = scanner_->scan();  // one pass over /proc, whatever the number of pods
  if (!scan) {
    for (const auto& c : candidates) {
      notEnrolled[c.key()] =
          "the node's network namespaces cannot be scanned: " + scan.error().message();
    }
    return fail(scan.error().wrap("discovery scan"));
  }
  if (scan->unreadable && events_.scanProblem) {
    events_.scanProblem(scan->unreadable, scan->firstProblem);
  }
  DiscoveryMatch match = matchDiscovered(candidates, scan->interfaces);
  for (const UndiscoveredPod& m : match.missing) notEnrolled[m.pod.key()] = m.reason;
  Status first;
  for (const DiscoveredPod& d : match.found) {
    std::string uid =
        d.pod.uid.empty() ? std::string(kDiscoveredUidPrefix) + d.pod.key() : d.pod.uid;
    PodRecord rec{uid, d.pod.podNamespace, d.pod.name, "", d.netns, d.ifname, d.pod.ips, {}, false};
    if (auto failed = enrollLocked(rec)) {
      notEnrolled[d.pod.key()] = failed->error.message();
      if (events_.error) events_.error(failed->kind);
      if (first) first = fail(failed->error.wrap(podLabel(rec)));
      continue;
    }
    if (events_.resynced) {
      auto enrolled = registry_.pods.find(uid);
      events_.resynced(enrolled->second, true,
                       "discovered in " + d.netns + " (" + d.ifname.str() +
                           "): running before its namespace was ambient or without our CNI ADD");
    }
  }
  return first;
}

std::optional<std::string> Enroller::uncapturablePort(
    const PodRecord& rec, const std::map<IfName, std::optional<LinkMaster>>& ports) const {
  auto port = ports.find(rec.hostVeth);
  // A veth that is gone belongs to a pod being removed: its DEL or the API releases it.
  if (port == ports.end()) return std::nullopt;
  // ztunnel's bridge as the same dump shows it, not as the last pass read it: a bridge renamed
  // since then must not make every pod on it look moved. ztunnel's veth missing (its pod
  // restarting): nothing to judge against.
  if (!registry_.ztunnel) return std::nullopt;
  auto zt = ports.find(registry_.ztunnel->hostVeth);
  if (zt == ports.end()) return std::nullopt;
  std::optional<IfName> ztBridge;
  if (zt->second && zt->second->kind == "bridge") ztBridge = zt->second->name;
  PodLink link;
  link.hostVeth = rec.hostVeth;
  link.hostMaster = port->second;
  auto c = checkCapturable(link, rec.ifname, ztBridge);
  if (c) return std::nullopt;
  return c.error().message();
}

std::map<std::string, std::string> Enroller::notEnrolled() const {
  std::lock_guard lock(mu_);
  return notEnrolled_;
}

Status Enroller::setEnrolledLocked(PodRecord rec, bool enroll, const std::string& why) {
  if (enroll) {
    if (auto failed = enrollLocked(rec)) return fail(failed->error);  // the caller names the pod
    if (events_.resynced) events_.resynced(registry_.pods.at(rec.uid), true, why);
    return {};
  }
  PodRecord before = rec;
  rec.enrolled = false;
  if (auto s = store(rec); !s) return s;
  if (auto s = applyPodChangeLocked(before, false); !s) return s;
  if (annotator_) annotator_->markEnrolled(rec.podNamespace, rec.name, false);
  if (events_.resynced) events_.resynced(rec, false, why);
  return {};
}

Status Enroller::store(const PodRecord& rec) {
  // Disk first: memory never runs ahead of it, so a restart sees what the kernel was told.
  if (auto s = store_.putPod(rec); !s) return s;
  auto [it, inserted] = registry_.pods.try_emplace(rec.uid, rec);
  if (inserted) registeredAt_[rec.uid] = clock_.now();
  if (!inserted) {
    enrolledCount_ -= it->second.enrolled;
    it->second = rec;
  }
  enrolledCount_ += rec.enrolled;
  return {};
}

Status Enroller::forget(const std::string& uid) {
  if (auto s = store_.removePod(uid); !s) return s;
  if (auto it = registry_.pods.find(uid); it != registry_.pods.end()) {
    enrolledCount_ -= it->second.enrolled;
    registry_.pods.erase(it);
  }
  registeredAt_.erase(uid);
  return {};
}

Result<PlanInput> Enroller::planInput() const {
  std::lock_guard lock(mu_);
  return planInputFrom(registry_, config_.runtime, ztunnelBridge_);
}

Result<NodeMode> Enroller::nodeMode() const {
  std::lock_guard lock(mu_);
  return nodeModeFrom(registry_, config_.runtime, ztunnelBridge_);
}

Status Enroller::readZtunnelBridgeLocked() {
  if (!registry_.ztunnel) return {};
  auto bridge = inspector_.bridgeOf(*registry_.ztunnel);
  if (!bridge && bridge.error().isNotFound()) {
    // ztunnel's pod is gone or restarting: keep planning with what the last pass read (fail
    // closed, as for the tunnels); the ztunnel namespace's pass below says what is missing.
    return {};
  }
  if (!bridge) {
    lastError_ = "ztunnel's veth " + registry_.ztunnel->hostVeth.str() +
                 " cannot be read in the node: " + bridge.error().message();
    return fail(bridge.error().code, lastError_, bridge.error().sysErrno);
  }
  if (*bridge != ztunnelBridge_ && events_.bridgeChanged) {
    events_.bridgeChanged(ztunnelBridge_, *bridge);
  }
  ztunnelBridge_ = *bridge;
  return {};
}

Status Enroller::reconcileLocked() {
  // Bridge facts first: the bridge may have been recreated (new MAC) or left since the last pass.
  if (auto s = readZtunnelBridgeLocked(); !s) return s;
  auto in = planInputFrom(registry_, config_.runtime, ztunnelBridge_);
  if (!in) {
    lastError_ = in.error().message();
    return {};  // nothing to program until ztunnel comes; not a failure of the pass
  }
  auto track = [&](IpAddress::Family family, std::optional<std::string> now,
                   std::optional<std::string>& last) {
    if (now != last && events_.failClosed) events_.failClosed(family, now);
    last = std::move(now);
  };
  track(IpAddress::Family::kV4, ipv4FailClosedReason(*in), ipv4FailClosed_);
  track(IpAddress::Family::kV6, ipv6FailClosedReason(*in), ipv6FailClosed_);
  auto nodePlan = computeNodePlan(*in);
  if (!nodePlan) {
    // Records that each decoded but do not plan together: not ready until this is resolved.
    lastError_ = nodePlan.error().message();
    return fail(nodePlan.error());
  }
  auto node = reconcile(kernel_, {config_.runtime.nodeNetns, NetnsRole::kNode}, *nodePlan, ledger_);
  if (!node) {
    nodeTrusted_ = false;
    lastError_ = node.error().message();
    return fail(node.error());
  }
  nodeTrusted_ = true;
  auto ztPlan = computeZtunnelPlan(*in);
  if (!ztPlan) {
    lastError_ = ztPlan.error().message();
    return fail(ztPlan.error());
  }
  auto zt = reconcile(kernel_, {registry_.ztunnel->netns, NetnsRole::kZtunnel}, *ztPlan, ledger_);
  if (!zt) {
    lastError_ = zt.error().message();
    if (zt.error().isNotFound()) {
      // Also what a damaged ztunnel record looks like: nothing can tell the two apart, and
      // the safe answer to both is to keep the pods redirected and wait for ztunnel's ADD.
      lastError_ = "the registered ztunnel pod (IP " + registry_.ztunnel->ip.str() +
                   ", network namespace " + registry_.ztunnel->netns +
                   ") cannot be reached: " + lastError_ +
                   ". The pod was removed or is restarting; enrolled pods stay redirected to it "
                   "(fail closed) until the ztunnel pod's next start registers it again. If "
                   "ztunnel is running, restart the ztunnel pod on this node";
    }
    return fail(zt.error());
  }
  lastError_.clear();
  if (events_.reconciled) events_.reconciled();
  return {};
}

Status Enroller::applyPodChangeLocked(const PodRecord& pod, bool enroll) {
  if (!nodeTrusted_ || !registry_.ztunnel) return reconcileLocked();
  if (!enroll) {
    // Another enrolled pod reusing the address (a recreated pod): a full pass keeps its element.
    for (const PodRecord* other : registry_.enrolled()) {
      if (other->uid != pod.uid && other->ips == pod.ips) return reconcileLocked();
    }
  }
  EnrolledPod p = enrolledPodOf(pod);
  auto mode = nodeModeFrom(registry_, config_.runtime, ztunnelBridge_);
  if (!mode) return reconcileLocked();
  // On a node where a family of the pod is fail closed, the drop table comes and goes with
  // its members.
  if (podChangeNeedsFullPass(p, *mode)) return reconcileLocked();
  ChangeSet changes = computePodChange(
      p, enroll, ledger_.original(NetnsRole::kNode, podVethSysctlKey(p.hostVeth)), *mode);
  if (auto s = kernel_.apply({config_.runtime.nodeNetns, NetnsRole::kNode}, changes, ledger_); !s) {
    nodeTrusted_ = false;
    lastError_ = s.error().message();
    return s;
  }
  return {};
}

Status Enroller::reconcileAll() {
  std::lock_guard lock(mu_);
  return reconcileLocked();
}

std::string Enroller::notReadyLocked() const {
  if (!started_) return "starting";
  if (!registry_.ztunnel) return "no ztunnel pod registered on this node";
  return lastError_;
}

bool Enroller::ready(std::string* reason) const {
  std::lock_guard lock(mu_);
  std::string why = notReadyLocked();
  if (reason) *reason = why;
  return why.empty();
}

std::optional<std::string> Enroller::failClosed(IpAddress::Family family) const {
  std::lock_guard lock(mu_);
  return family == IpAddress::Family::kV4 ? ipv4FailClosed_ : ipv6FailClosed_;
}

PodRegistry Enroller::registry() const {
  std::lock_guard lock(mu_);
  return registry_;
}

size_t Enroller::enrolledCount() const {
  return enrolledCount_;
}

}  // namespace ambient
