// The real KernelPort over rtnetlink, nftables and /proc/sys. Touches the kernel.
#include "common/sys/linux_kernel.h"

#include <sched.h>
#include <sys/stat.h>

#include <thread>

#include "common/core/constants.h"
#include "common/sys/netns.h"
#include "common/sys/nft_kernel.h"
#include "common/sys/rtnl.h"
#include "common/sys/sysctl.h"

namespace ambient {
namespace {

// Deleting what is already gone, or adding what is already there, is success: apply is
// level-triggered and may race with the kernel or a previous, interrupted pass.
Status idempotent(Status s, ChangeKind kind) {
  if (s) return s;
  if (kind == ChangeKind::kDelete && s.error().isNotFound()) return {};
  if (kind == ChangeKind::kCreate && s.error().isExists()) return {};
  return s;
}

Status applySysctl(const Netns& ns, NetnsRole role, const Change& c, SysctlLedger& ledger) {
  const auto& s = std::get<SysctlSpec>(c.object);
  if (c.kind == ChangeKind::kDelete) {
    auto st = writeSysctl(ns, s.key, s.value);
    if (!st && !st.error().isNotFound()) return st;
    return ledger.forget(role, s.key);
  }
  if (c.kind == ChangeKind::kCreate) {
    auto current = readSysctl(ns, s.key);
    if (!current) return fail(current.error());
    // Durable before the write: a crash in between still leaves the original on record.
    if (auto st = ledger.record(role, s.key, *current); !st) return st;
  }
  return writeSysctl(ns, s.key, s.value);
}

}  // namespace

// Drops a cached connection unless the call succeeded: after an error a socket may hold
// stale replies, and the next call starts clean.
class DropOnFailure {
 public:
  DropOnFailure(std::map<std::string, std::unique_ptr<LinuxKernel::Connection>>& m,
                std::string path)
      : map_(m), path_(std::move(path)) {}
  ~DropOnFailure() {
    if (!ok_) map_.erase(path_);
  }
  void succeeded() { ok_ = true; }

 private:
  std::map<std::string, std::unique_ptr<LinuxKernel::Connection>>& map_;
  std::string path_;
  bool ok_ = false;
};

struct LinuxKernel::Connection {
  Netns ns;
  Rtnl rtnl;
  NftKernel nft;
  dev_t dev;
  ino_t ino;
};

LinuxKernel::LinuxKernel() = default;
LinuxKernel::~LinuxKernel() = default;

Result<LinuxKernel::Connection*> LinuxKernel::connect(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    auto it = connections_.find(path);
    if (it != connections_.end() && it->second->dev == st.st_dev && it->second->ino == st.st_ino) {
      return it->second.get();
    }
  }
  connections_.erase(path);
  if (connections_.size() >= 16) connections_.clear();  // pods' namespaces come and go
  auto ns = Netns::open(path);
  if (!ns) return fail(ns.error());
  auto rtnl = Rtnl::openIn(*ns);
  if (!rtnl) return fail(rtnl.error());
  auto nft = NftKernel::openIn(*ns);
  if (!nft) return fail(nft.error());
  struct stat nsStat {};
  ::fstat(ns->fd(), &nsStat);
  auto conn = std::unique_ptr<Connection>(new Connection{
      std::move(*ns), std::move(*rtnl), std::move(*nft), nsStat.st_dev, nsStat.st_ino});
  auto* raw = conn.get();
  connections_[path] = std::move(conn);
  return raw;
}

Result<NetnsPlan> LinuxKernel::observe(const NetnsTarget& target,
                                       const std::vector<std::string>& sysctlKeys) {
  std::string where = std::string(netnsRoleName(target.role)) + " namespace " + target.path;
  std::lock_guard lock(mu_);
  DropOnFailure guard(connections_, target.path);
  auto conn = connect(target.path);
  if (!conn) return fail(conn.error().wrap("observe " + where));
  const Netns* ns = &(*conn)->ns;
  auto plan = (*conn)->rtnl.observe(target.role);
  if (!plan) return fail(plan.error().wrap("observe " + where));
  auto table = (*conn)->nft.observe(NftFamily::kIp, std::string(kNftTable));
  if (!table) return fail(table.error().wrap("observe " + where));
  plan->nft = *table;
  auto table6 = (*conn)->nft.observe(NftFamily::kIp6, std::string(kNftTable));
  if (!table6) return fail(table6.error().wrap("observe " + where));
  plan->nft6 = *table6;
  if (target.role == NetnsRole::kNode) {
    auto bridge = (*conn)->nft.observe(NftFamily::kBridge, std::string(kNftBridgeTable));
    if (!bridge) return fail(bridge.error().wrap("observe " + where));
    plan->bridgeNft = *bridge;
  }
  for (const auto& key : sysctlKeys) {
    auto v = readSysctl(*ns, key);
    if (v) {
      plan->sysctls.push_back({key, *v});
    } else if (!v.error().isNotFound()) {
      return fail(v.error().wrap("observe " + where));
    }
  }
  guard.succeeded();
  return plan;
}

Status LinuxKernel::apply(const NetnsTarget& target, const ChangeSet& changes,
                          SysctlLedger& ledger) {
  std::string where =
      "apply to " + std::string(netnsRoleName(target.role)) + " namespace " + target.path;
  std::lock_guard lock(mu_);
  DropOnFailure guard(connections_, target.path);
  auto conn = connect(target.path);
  if (!conn) return fail(conn.error().wrap(where));
  const Netns* ns = &(*conn)->ns;
  Rtnl* rtnl = &(*conn)->rtnl;
  NftKernel* nft = &(*conn)->nft;

  std::vector<const Change*> nftRun;
  auto flushNft = [&]() -> Status {
    auto s = nft->applyBatch(nftRun);
    nftRun.clear();
    return s;
  };
  for (const auto& c : changes.changes) {
    if (std::holds_alternative<NftTableSpec>(c.object) ||
        std::holds_alternative<NftElements>(c.object)) {
      nftRun.push_back(&c);
      continue;
    }
    if (auto s = flushNft(); !s) return fail(s.error().wrap(where));
    Status s = std::visit(
        [&](const auto& o) -> Status {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, TunnelSpec>) {
            return idempotent(rtnl->tunnel(c.kind, o), c.kind);
          } else if constexpr (std::is_same_v<T, AddressSpec>) {
            return idempotent(rtnl->address(c.kind, o), c.kind);
          } else if constexpr (std::is_same_v<T, RouteSpec>) {
            return idempotent(rtnl->route(c.kind, o), c.kind);
          } else if constexpr (std::is_same_v<T, RuleSpec>) {
            return idempotent(rtnl->rule(c.kind, o), c.kind);
          } else if constexpr (std::is_same_v<T, SysctlSpec>) {
            return applySysctl(*ns, target.role, c, ledger);
          } else {
            return {};
          }
        },
        c.object);
    if (!s) return fail(s.error().wrap(where));
  }
  if (auto s = flushNft(); !s) return fail(s.error().wrap(where));
  guard.succeeded();
  return {};
}

Result<TunnelChoice> chooseTunnelKind(TunnelMode mode) {
  if (mode == TunnelMode::kGeneve) return TunnelChoice{TunnelKind::kGeneve, false, ""};
  if (mode == TunnelMode::kVxlan) return TunnelChoice{TunnelKind::kVxlan, false, ""};
  Result<TunnelChoice> out = fail(ErrorCode::kInternal, "tunnel probe did not run");
  std::thread([&] {
    // This thread alone moves to a new, empty namespace and dies with it.
    if (unshare(CLONE_NEWNET) != 0) {
      out = fail(ErrorCode::kKernel, "probe tunnel support: unshare(CLONE_NEWNET)", errno);
      return;
    }
    auto ns = Netns::open("/proc/thread-self/ns/net");
    if (!ns) {
      out = fail(ns.error());
      return;
    }
    auto rtnl = Rtnl::openIn(*ns);
    if (!rtnl) {
      out = fail(rtnl.error());
      return;
    }
    TunnelSpec probe{
        "ambprobe0", TunnelKind::kGeneve, 1, IpAddress("192.0.2.1"), kDefaultTunnelPort, 1450};
    auto geneve = rtnl->tunnel(ChangeKind::kCreate, probe);
    if (geneve) {
      out = TunnelChoice{TunnelKind::kGeneve, false, ""};
      return;
    }
    probe.kind = TunnelKind::kVxlan;
    if (auto vxlan = rtnl->tunnel(ChangeKind::kCreate, probe); vxlan) {
      out = TunnelChoice{TunnelKind::kVxlan, true,
                         "this kernel cannot create geneve links (" + geneve.error().message() +
                             "); using vxlan on the same UDP port instead"};
      return;
    }
    out = fail(ErrorCode::kUnsupported, "this kernel can create neither geneve nor vxlan links (" +
                                            geneve.error().message() +
                                            "); ambient redirection needs one of them");
  }).join();
  return out;
}

}  // namespace ambient
