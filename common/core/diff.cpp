// diff: observed kernel state -> plan, as ordered changes. Pure.
#include "common/core/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace ambient {
namespace {

// Identity keys: what makes two specs "the same object" in the kernel.
auto key(const TunnelSpec& t) {
  return t.name;
}
auto key(const AddressSpec& a) {
  return std::make_pair(a.dev, a.prefix);
}
auto key(const RouteSpec& r) {
  return std::make_tuple(r.table, r.dst, r.type);
}
auto key(const RuleSpec& r) {
  return std::make_pair(r.family, r.priority);
}

// Objects by identity key, for O(log n) matching (a node carries thousands of routes).
template <class T>
auto indexByKey(const std::vector<T>& list) {
  std::map<decltype(key(std::declval<const T&>())), const T*> index;
  for (const auto& x : list) index.emplace(key(x), &x);
  return index;
}

template <class Index, class T>
const T* lookup(const Index& index, const T& probe) {
  auto it = index.find(key(probe));
  return it == index.end() ? nullptr : it->second;
}

bool sameTunnelIdentity(const TunnelSpec& a, const TunnelSpec& b) {
  return a.kind == b.kind && a.vni == b.vni && a.remote == b.remote && a.port == b.port;
}

// Devices a sysctl key names: net/ipv4/conf/<dev>/<name>.
std::string sysctlDevice(const std::string& key) {
  const std::string prefix = "net/ipv4/conf/";
  if (key.rfind(prefix, 0) != 0) return {};
  auto rest = key.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

class Differ {
 public:
  Differ(const NetnsPlan& want, const ObservedState& have) : want_(want), have_(have) {}

  ChangeSet run() {
    diffTunnels();
    diffList(
        want_.addresses, have_.owned.addresses,
        [&](const AddressSpec& a) { return gone_.count(a.dev) > 0; }, deleteAddresses_,
        createAddresses_);
    diffList(
        want_.routes, have_.owned.routes,
        [&](const RouteSpec& r) { return gone_.count(r.dev) > 0; }, deleteRoutes_, createRoutes_);
    diffList(
        want_.rules, have_.owned.rules, [](const RuleSpec&) { return false; }, deleteRules_,
        createRules_);
    diffSysctls();
    diffNft();

    ChangeSet out;
    out.role = want_.role;
    auto& c = out.changes;
    // Deletes, from the most dependent object to the least.
    append(c, deleteNft_);
    append(c, deleteRules_);
    append(c, deleteRoutes_);
    append(c, deleteAddresses_);
    append(c, deleteTunnels_);
    append(c, restoreSysctls_);
    // Creates, in dependency order.
    append(c, createTunnels_);
    append(c, createAddresses_);
    append(c, createRoutes_);
    append(c, createRules_);
    append(c, writeSysctls_);
    append(c, createNft_);
    return out;
  }

 private:
  static void append(std::vector<Change>& to, const std::vector<Change>& from) {
    to.insert(to.end(), from.begin(), from.end());
  }

  void diffTunnels() {
    auto wantIndex = indexByKey(want_.tunnels);
    auto haveIndex = indexByKey(have_.owned.tunnels);
    for (const auto& h : have_.owned.tunnels) {
      const TunnelSpec* w = lookup(wantIndex, h);
      if (!w) {
        deleteTunnels_.push_back({ChangeKind::kDelete, h});
        gone_.insert(h.name);
      } else if (!sameTunnelIdentity(*w, h)) {
        // Remote, VNI, port or kind changed: the link is replaced, and with it everything the
        // kernel hung on it (addresses, routes, per-device sysctls).
        deleteTunnels_.push_back({ChangeKind::kDelete, h});
        createTunnels_.push_back({ChangeKind::kCreate, *w});
        gone_.insert(h.name);
      } else if (!(*w == h)) {
        createTunnels_.push_back({ChangeKind::kUpdate, *w});
      }
    }
    for (const auto& w : want_.tunnels) {
      if (!lookup(haveIndex, w)) {
        createTunnels_.push_back({ChangeKind::kCreate, w});
        gone_.insert(w.name);
      }
    }
  }

  // `onGoneDevice`: the observed object hangs on a device that is being removed or replaced,
  // so the kernel drops it by itself: no delete, and a create if it is still wanted.
  template <class T, class Gone>
  void diffList(const std::vector<T>& want, const std::vector<T>& have, Gone onGoneDevice,
                std::vector<Change>& deletes, std::vector<Change>& creates) {
    auto wantIndex = indexByKey(want);
    auto haveIndex = indexByKey(have);
    for (const auto& h : have) {
      if (onGoneDevice(h)) continue;
      const T* w = lookup(wantIndex, h);
      if (!w || !(*w == h)) deletes.push_back({ChangeKind::kDelete, h});
    }
    for (const auto& w : want) {
      const T* h = lookup(haveIndex, w);
      if (!h || !(*h == w) || onGoneDevice(*h)) creates.push_back({ChangeKind::kCreate, w});
    }
  }

  void diffSysctls() {
    std::set<std::string> wanted;
    std::map<std::string, const std::string*> current;
    for (const auto& h : have_.owned.sysctls) current.emplace(h.key, &h.value);
    for (const auto& w : want_.sysctls) {
      wanted.insert(w.key);
      auto h = current.find(w.key);
      bool fresh = gone_.count(sysctlDevice(w.key)) > 0;
      if (!fresh && h != current.end() && *h->second == w.value) continue;
      bool recorded = have_.sysctlOriginals.count(w.key) > 0;
      writeSysctls_.push_back({recorded ? ChangeKind::kUpdate : ChangeKind::kCreate, w});
    }
    for (const auto& [k, original] : have_.sysctlOriginals) {
      if (!wanted.count(k))
        restoreSysctls_.push_back({ChangeKind::kDelete, SysctlSpec{k, original}});
    }
  }

  void diffNft() {
    diffNftTable(want_.nft, have_.owned.nft);
    diffNftTable(want_.bridgeNft, have_.owned.bridgeNft);
    diffNftTable(want_.nft6, have_.owned.nft6);
  }

  void diffNftTable(const std::optional<NftTableSpec>& w, const std::optional<NftTableSpec>& h) {
    if (!w && h) {
      deleteNft_.push_back(
          {ChangeKind::kDelete, NftTableSpec{.family = h->family, .name = h->name}});
    } else if (w && !h) {
      createNft_.push_back({ChangeKind::kCreate, *w});
    } else if (w && h) {
      if (!w->sameStructure(*h)) {
        createNft_.push_back({ChangeKind::kUpdate, *w});
        return;
      }
      for (const auto& ws : w->sets) {
        auto hs = std::find_if(h->sets.begin(), h->sets.end(),
                               [&](const NftSetSpec& s) { return s.name == ws.name; });
        NftElements add{w->family, w->name, ws.name, {}}, del{w->family, w->name, ws.name, {}};
        std::set_difference(ws.elements.begin(), ws.elements.end(), hs->elements.begin(),
                            hs->elements.end(), std::back_inserter(add.elements));
        std::set_difference(hs->elements.begin(), hs->elements.end(), ws.elements.begin(),
                            ws.elements.end(), std::back_inserter(del.elements));
        if (!del.elements.empty()) deleteNft_.push_back({ChangeKind::kDelete, del});
        if (!add.elements.empty()) createNft_.push_back({ChangeKind::kCreate, add});
      }
    }
  }

  const NetnsPlan& want_;
  const ObservedState& have_;
  std::set<std::string> gone_;  // devices created, deleted or replaced by this change set
  std::vector<Change> deleteNft_, deleteRules_, deleteRoutes_, deleteAddresses_, deleteTunnels_,
      restoreSysctls_, createTunnels_, createAddresses_, createRoutes_, createRules_, writeSysctls_,
      createNft_;
};

}  // namespace

ChangeSet diff(const NetnsPlan& desired, const ObservedState& observed) {
  return Differ(desired, observed).run();
}

}  // namespace ambient
