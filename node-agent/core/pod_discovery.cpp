// The discovery pass's decisions: which pods to look for and where they are. Pure.
#include "node-agent/core/pod_discovery.h"

#include <algorithm>
#include <map>
#include <set>

namespace ambient {

std::vector<DiscoveryCandidate> computeDiscoveryCandidates(const MetadataSnapshot& meta,
                                                           const PodRegistry& registry,
                                                           const MembershipPolicy& policy) {
  std::set<std::string> uids;
  std::set<std::string> names;
  for (const auto& [uid, rec] : registry.pods) {
    uids.insert(uid);
    names.insert(rec.podNamespace + "/" + rec.name);
  }
  std::vector<DiscoveryCandidate> out;
  for (const auto& [key, pod] : meta.nodePods) {
    if (!pod.running || pod.hostNetwork || pod.ips.empty()) continue;
    if (names.count(key) || (!pod.uid.empty() && uids.count(pod.uid))) continue;
    auto slash = key.find('/');
    if (slash == std::string::npos) continue;
    DiscoveryCandidate c{key.substr(0, slash), key.substr(slash + 1), pod.uid, pod.ips};
    // The membership decision reads the cluster-wide pod when there is one (same object).
    if (classifyPod(c.podNamespace, c.name, meta, policy).role != PodRole::kAmbient) continue;
    out.push_back(std::move(c));
  }
  return out;  // std::map order: sorted by namespace/name
}

DiscoveryMatch matchDiscovered(const std::vector<DiscoveryCandidate>& candidates,
                               const std::vector<NetnsInterface>& scan) {
  // address -> every (namespace, interface) that holds it
  std::map<IpAddress, std::vector<const NetnsInterface*>> holders;
  for (const NetnsInterface& i : scan) {
    for (const IpAddress& ip : i.ips) {
      auto& list = holders[ip];
      bool seen = std::any_of(list.begin(), list.end(), [&](const NetnsInterface* o) {
        return o->inode == i.inode && o->ifname == i.ifname;
      });
      if (!seen) list.push_back(&i);
    }
  }
  DiscoveryMatch out;
  for (const DiscoveryCandidate& c : candidates) {
    const NetnsInterface* where = nullptr;
    std::string problem;
    for (const IpAddress& ip : c.ips) {
      auto it = holders.find(ip);
      if (it == holders.end()) {
        if (where)
          problem =
              "address " + ip.str() + " is not on " + where->ifname.str() + " in " + where->netns;
        continue;
      }
      std::set<uint64_t> namespaces;
      for (const NetnsInterface* h : it->second) namespaces.insert(h->inode);
      if (namespaces.size() > 1) {
        problem = "address " + ip.str() + " is held by " + std::to_string(namespaces.size()) +
                  " network namespaces (";
        for (size_t n = 0; n < it->second.size(); ++n) {
          problem += (n ? ", " : "") + it->second[n]->netns + " " + it->second[n]->ifname.str();
        }
        problem += "); not enrolled until only one holds it";
        break;
      }
      const NetnsInterface* h = it->second.front();
      if (it->second.size() > 1) {
        problem = "address " + ip.str() + " is on two interfaces in " + h->netns;
        break;
      }
      if (where && (where->inode != h->inode || where->ifname != h->ifname)) {
        problem = "addresses are split between " + where->ifname.str() + " in " + where->netns +
                  " and " + h->ifname.str() + " in " + h->netns;
        break;
      }
      where = h;
    }
    if (!problem.empty()) {
      out.missing.push_back({c, problem});
    } else if (!where) {
      out.missing.push_back({c, kNamespaceNotFound});
    } else if (std::any_of(c.ips.begin(), c.ips.end(), [&](const IpAddress& ip) {
                 return std::find(where->ips.begin(), where->ips.end(), ip) == where->ips.end();
               })) {
      out.missing.push_back({c, "not every address of the pod is on " + where->ifname.str() +
                                    " in " + where->netns + " (its IP changed?)"});
    } else {
      out.found.push_back({c, where->netns, where->ifname});
    }
  }
  return out;
}

}  // namespace ambient
