// WorkloadView indexes and lookups. Pure.
#include "ztunnel/core/workload_view.h"

namespace zt {

std::string Workload::identity() const {
  return "spiffe://" + trustDomain + "/ns/" + ns + "/sa/" + serviceAccount;
}

Status WorkloadView::finalize() {
  workloadByIp_.clear();
  workloadByUid_.clear();
  serviceByVip_.clear();
  serviceByHost_.clear();
  for (size_t i = 0; i < workloads.size(); ++i) {
    Workload& w = workloads[i];
    if (w.uid.empty()) w.uid = w.ns + "/" + w.name;
    if (w.trustDomain.empty()) w.trustDomain = trustDomain;
    if (!workloadByUid_.emplace(w.uid, i).second)
      return fail(ErrorCode::kInvalidInput, "duplicate workload uid '" + w.uid + "'");
    for (const auto& ip : w.workloadIps)
      if (!workloadByIp_.emplace(ip, i).second)
        return fail(ErrorCode::kInvalidInput,
                    "workload IP " + ip.toString() + " used twice (workload " + w.uid + ")");
  }
  for (size_t i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    serviceByHost_[s.ns + "/" + s.hostname] = i;
    for (const auto& vip : s.vips)
      if (!serviceByVip_.emplace(vip.second, i).second)
        return fail(ErrorCode::kInvalidInput, "service VIP " + vip.second.toString() +
                                                  " used twice (service " + s.hostname + ")");
  }
  for (const Workload& w : workloads) {
    for (const auto& [key, ports] : w.services) {
      auto it = serviceByHost_.find(key);
      if (it == serviceByHost_.end()) continue;  // upstream tolerates endpoints of unknown services
      services[it->second].endpoints[w.uid] = Endpoint{w.uid, ports, w.status};
    }
  }
  return {};
}

const Workload* WorkloadView::findWorkloadByIp(const IpAddr& ip) const {
  auto it = workloadByIp_.find(ip);
  return it == workloadByIp_.end() ? nullptr : &workloads[it->second];
}

const Workload* WorkloadView::findWorkloadByUid(const std::string& uid) const {
  auto it = workloadByUid_.find(uid);
  return it == workloadByUid_.end() ? nullptr : &workloads[it->second];
}

const Service* WorkloadView::findServiceByVip(const IpAddr& ip) const {
  auto it = serviceByVip_.find(ip);
  return it == serviceByVip_.end() ? nullptr : &services[it->second];
}

const Service* WorkloadView::findServiceByHostname(const std::string& ns,
                                                   const std::string& host) const {
  auto it = serviceByHost_.find(ns + "/" + host);
  return it == serviceByHost_.end() ? nullptr : &services[it->second];
}

}  // namespace zt
