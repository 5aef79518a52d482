// The policies ztunnel applies to one pod, and the trace's policy verdict. Pure.
#include "ambientctl/core/policy_report.h"

#include <algorithm>

#include "ztunnel/core/inbound_authz.h"
#include "ztunnel/core/workload_view_policies.h"

namespace ambient {
namespace {

using nlohmann::json;

const zt::Workload* findPod(const zt::WorkloadView& view, std::string_view ns,
                            std::string_view name) {
  auto it = std::find_if(view.workloads.begin(), view.workloads.end(),
                         [&](const zt::Workload& w) { return w.ns == ns && w.name == name; });
  return it == view.workloads.end() ? nullptr : &*it;
}

std::optional<zt::IpAddr> toZt(const IpAddress& ip) {
  auto parsed = zt::IpAddr::parse(ip.str());
  return parsed ? std::optional(*parsed) : std::nullopt;
}

std::string policyKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

// "ALLOW default/only-sleep (namespace, partial: ...)"
std::string describeEntry(const json& e) {
  std::string out = e.value("action", e.value("mode", "")) + " " +
                    policyKey(e.value("namespace", ""), e.value("name", "")) + " (" +
                    e.value("scope", "selector");
  if (e.contains("matchLabels")) out += " " + e["matchLabels"].dump();
  if (e.value("dryRun", false)) out += ", dry run";
  if (e.value("status", "ok") != "ok") out += ", " + e.value("status", "");
  if (e.contains("reason")) out += ": " + e.value("reason", "");
  return out + ")";
}

}  // namespace

Result<PolicyReport> reportPolicies(const zt::WorkloadView& view, std::string_view podNamespace,
                                    std::string_view podName, const std::vector<Denial>& denials) {
  const zt::Workload* w = findPod(view, podNamespace, podName);
  if (w == nullptr) {
    return fail(ErrorCode::kNotFound, "ztunnel's view has no pod " + std::string(podNamespace) +
                                          "/" + std::string(podName) +
                                          " (not in the API, or it has no IP yet)");
  }
  PolicyReport r;
  r.workload = w->ns + "/" + w->name;
  r.identity = w->identity();
  r.ambient = w->protocol == zt::TunnelProtocol::kHbone;
  for (const zt::IpAddr& ip : w->workloadIps) r.addresses.push_back(ip.toString());
  zt::authz::ConnectionFacts facts;
  facts.destinationNamespace = w->ns;
  facts.destinationLabels = w->labels;
  facts.boundPolicyKeys = w->authorizationPolicies;
  for (const zt::authz::AuthorizationPolicy* p : view.policies.authorization.applicable(facts))
    r.authorization.push_back(zt::authorizationPolicyStatus(*p));
  // The workload-wide mode (port 0 is no port a portLevelMtls entry names).
  zt::authz::PlaintextDecision mode =
      view.policies.peerAuthentication.plaintextAllowed(w->ns, w->labels, 0);
  r.mtlsMode = mode.allowed ? "PERMISSIVE" : "STRICT";
  if (mode.decidedBy != nullptr) r.mtlsDecidedBy = zt::peerAuthenticationStatus(*mode.decidedBy);
  r.rejected = view.policies.rejected;
  for (const Denial& d : denials) {
    if (std::find(r.addresses.begin(), r.addresses.end(), d.destinationAddress()) !=
        r.addresses.end())
      r.denials.push_back(d);
  }
  return r;
}

std::string renderPolicyReport(const PolicyReport& r) {
  std::string out = "pod " + r.workload + " (" + r.identity + ")\n";
  if (!r.ambient) {
    out += "  not ambient: its traffic does not pass ztunnel, so no policy is enforced for it\n";
  }
  out += "AuthorizationPolicies that select it (evaluated DENY first, then ALLOW):\n";
  if (r.authorization.empty()) out += "  none: every connection is allowed\n";
  for (const json& e : r.authorization) out += "  " + describeEntry(e) + "\n";
  out += "mTLS for plaintext inbound: " + r.mtlsMode;
  out += r.mtlsDecidedBy.is_null()
             ? " (no PeerAuthentication: the default)\n"
             : " from PeerAuthentication " + describeEntry(r.mtlsDecidedBy) + "\n";
  for (const std::string& why : r.rejected)
    out += "note: a policy in the view could not be read and was dropped: " + why + "\n";
  out += "recent denials (destination this pod):";
  if (!r.denialsUnavailable.empty()) out += " unknown, " + r.denialsUnavailable + "\n";
  if (r.denialsUnavailable.empty() && r.denials.empty()) out += " none\n";
  if (!r.denials.empty()) out += "\n";
  for (const Denial& d : r.denials) {
    out += "  " + d.time + " " + d.source + " (" +
           (d.sourcePrincipal.empty() ? "plaintext" : d.sourcePrincipal) + ") -> " + d.destination +
           ": " + d.reason + (d.policy.empty() ? "" : " by " + d.policy) +
           (d.trigger == "policy_update" ? ", open connection closed" : "") + "\n";
  }
  return out;
}

json policyReportJson(const PolicyReport& r) {
  json denials = json::array();
  for (const Denial& d : r.denials) {
    denials.push_back({{"time", d.time},
                       {"listener", d.listener},
                       {"source", d.source},
                       {"sourcePrincipal", d.sourcePrincipal},
                       {"destination", d.destination},
                       {"reason", d.reason},
                       {"policy", d.policy},
                       {"trigger", d.trigger}});
  }
  json out = {{"pod", r.workload},
              {"identity", r.identity},
              {"ambient", r.ambient},
              {"addresses", r.addresses},
              {"authorizationPolicies", r.authorization},
              {"mtls", {{"mode", r.mtlsMode}, {"peerAuthentication", r.mtlsDecidedBy}}},
              {"rejected", r.rejected},
              {"denials", denials}};
  if (!r.denialsUnavailable.empty()) out["denialsUnavailable"] = r.denialsUnavailable;
  return out;
}

namespace {

constexpr uint16_t kHbonePort = 15008;

// One destination pod's verdict: "NS/POD: allowed by ALLOW ns/name" and so on.
std::string podVerdict(const zt::WorkloadView& view, const zt::Workload& to,
                       const std::string& identity, const zt::IpAddr& src, const zt::IpAddr& dst,
                       uint16_t port) {
  std::string out = to.ns + "/" + to.name + ": ";
  if (to.protocol != zt::TunnelProtocol::kHbone)
    return out + "not ambient, ztunnel enforces no policy for it";
  zt::InboundAuthzVerdict v =
      zt::computeInboundAuthz(view, &to, identity, src, dst, port, identity.empty());
  std::string policy = policyKey(v.policyNamespace, v.policy);
  if (v.allowed) {
    out += v.reason == "allow_policy" ? "allowed by ALLOW " + policy
                                      : "allowed (no ALLOW policy selects the pod)";
  } else if (v.reason == "mtls_strict") {
    out += "denied, plaintext refused by PeerAuthentication " + policy + " (STRICT)";
  } else if (v.reason == "deny_policy") {
    out += "denied by DENY " + policy;
  } else if (v.reason == "invalid_policy") {
    out += "denied by the unreadable policy " + policy + " (it fails closed)";
  } else {
    out += "denied, ALLOW policies select the pod and none matches";
  }
  for (const std::string& key : v.auditHits) out += "; audit " + key + " matched";
  return out;
}

}  // namespace

std::string describePolicyVerdict(const zt::WorkloadView& view, const IpAddress& src,
                                  const IpAddress& dst, uint16_t port) {
  auto srcIp = toZt(src);
  auto dstIp = toZt(dst);
  if (!srcIp || !dstIp) return "policy: not evaluated (" + src.str() + " -> " + dst.str() + ")";
  // Who the destination's ztunnel sees: an ambient source's identity (its ztunnel speaks HBONE),
  // or, for a connection to the HBONE port, the identity of the source's own proxy (a sidecar
  // or a waypoint); anything else arrives as plaintext.
  const zt::Workload* from = view.findWorkloadByIp(*srcIp);
  bool ambientSource = from != nullptr && from->protocol == zt::TunnelProtocol::kHbone;
  bool hbone = from != nullptr && (ambientSource || port == kHbonePort);
  std::string identity = hbone ? from->identity() : "";
  std::string out = "policy, ";
  out += hbone ? "HBONE from " + identity : "plaintext (the source is not in the mesh)";
  if (port == kHbonePort)
    out += " (evaluated for port 15008: the CONNECT's own port is not seen here)";
  if (const zt::Workload* to = view.findWorkloadByIp(*dstIp)) {
    return out + ", at " + podVerdict(view, *to, identity, *srcIp, *dstIp, port);
  }
  const zt::Service* svc = view.findServiceByVip(*dstIp);
  if (svc == nullptr) return out + ": " + dst.str() + " is no pod or service in ztunnel's view";
  auto servicePort = svc->ports.find(port);
  if (servicePort == svc->ports.end())
    return out + ": service " + svc->ns + "/" + svc->name + " has no port " + std::to_string(port);
  out += ", at the endpoints of service " + svc->ns + "/" + svc->name + ":";
  std::string sep = " ";
  for (const auto& [uid, endpoint] : svc->endpoints) {
    const zt::Workload* to = view.findWorkloadByUid(uid);
    if (to == nullptr) continue;
    auto ip = std::find_if(to->workloadIps.begin(), to->workloadIps.end(),
                           [&](const zt::IpAddr& a) { return a.v6 == srcIp->v6; });
    if (ip == to->workloadIps.end()) continue;  // no address of the connection's family
    auto named = endpoint.port.find(port);
    uint16_t target = named != endpoint.port.end() && named->second != 0 ? named->second
                      : servicePort->second != 0                         ? servicePort->second
                                                                         : port;
    out += sep + podVerdict(view, *to, identity, *srcIp, *ip, target);
    sep = "; ";
  }
  return sep == " " ? out + " none" : out;
}

}  // namespace ambient
