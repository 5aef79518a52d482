// libFuzzer target: ztunnel's view file (upstream's local-config JSON). A parsed view renders to
// text that parses to the same view; its indexes find what it holds; routing over it (outbound
// and inbound CONNECT) and ambientctl's policy report and trace verdict over it (which read the
// same file) do not crash. Pure.
#include "ambientctl/core/policy_report.h"
#include "fuzz_util.h"
#include "ztunnel/core/route_plan.h"
#include "ztunnel/core/workload_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto view = zt::parseWorkloadView(fuzz::asView(data, size), "cluster.local");
  if (!view) return 0;

  std::string text = zt::renderWorkloadView(*view);
  auto again = zt::parseWorkloadView(text, "cluster.local");
  fuzz::check(again.has_value());
  fuzz::check(zt::renderWorkloadView(*again) == text);

  std::vector<zt::IpAddr> ips;
  for (const auto& w : view->workloads) {
    fuzz::check(view->findWorkloadByUid(w.uid) == &w);
    for (const auto& ip : w.workloadIps) {
      fuzz::check(view->findWorkloadByIp(ip) == &w);
      if (ips.size() < 4) ips.push_back(ip);
    }
  }
  for (const auto& s : view->services) {
    for (const auto& [net, vip] : s.vips) {
      fuzz::check(view->findServiceByVip(vip) == &s);
      if (ips.size() < 8) ips.push_back(vip);
    }
  }
  for (const auto& src : ips) {
    for (const auto& dst : ips) {
      for (uint16_t port : {uint16_t(80), uint16_t(8080), uint16_t(15008)}) {
        auto r = zt::computeOutboundRoute(*view, {src, 40000}, {dst, port}, size, 15008);
        if (r.kind == zt::RouteKind::kHbone) fuzz::check(r.connectTo.port != 0);
      }
    }
    zt::ConnectRequest req{"CONNECT", zt::SocketAddr{src, 8080}.toString(), "", "", ""};
    auto d = zt::computeInboundTarget(*view, req, "");
    if (d.status == 200) fuzz::check(d.destination == view->findWorkloadByIp(src));
  }
  for (size_t i = 0; i < view->workloads.size() && i < 4; ++i) {
    const zt::Workload& w = view->workloads[i];
    auto report = ambient::reportPolicies(*view, w.ns, w.name);
    fuzz::check(report.has_value());
    fuzz::check(!ambient::renderPolicyReport(*report).empty());
    fuzz::check(ambient::policyReportJson(*report).is_object());
  }
  for (const auto& src : ips) {
    for (const auto& dst : ips) {
      auto from = ambient::IpAddress::parse(src.toString());
      auto to = ambient::IpAddress::parse(dst.toString());
      fuzz::check(from.has_value() && to.has_value());
      if (from->family() != to->family()) continue;
      for (uint16_t port : {uint16_t(80), uint16_t(15008)})
        fuzz::check(ambient::describePolicyVerdict(*view, *from, *to, port).starts_with("policy"));
    }
  }
  return 0;
}
