// The real KernelPort over rtnetlink, nftables and /proc/sys. Touches the kernel.
#include "common/sys/linux_kernel.h"

#include <sched.h>

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

Result<NetnsPlan> LinuxKernel::observe(const NetnsTarget& target,
                                       const std::vector<std::string>& sysctlKeys) {
  std::string where = std::string(netnsRoleName(target.role)) + " namespace " + target.path;
  auto ns = Netns::open(target.path);
  if (!ns) return fail(ns.error().wrap("observe " + where));
  auto rtnl = Rtnl::openIn(*ns);
  if (!rtnl) return fail(rtnl.error().wrap("observe " + where));
  auto plan = rtnl->observe(target.role);
  if (!plan) return fail(plan.error().wrap("observe " + where));
  auto nft = NftKernel::openIn(*ns);
  if (!nft) return fail(nft.error().wrap("observe " + where));
  auto table = nft->observe(std::string(kNftTable));
  if (!table) return fail(table.error().wrap("observe " + where));
  plan->nft = *table;
  for (const auto& key : sysctlKeys) {
    auto v = readSysctl(*ns, key);
    if (v) {
      plan->sysctls.push_back({key, *v});
    } else if (!v.error().isNotFound()) {
      return fail(v.error().wrap("observe " + where));
    }
  }
  return plan;
}

Status LinuxKernel::apply(const NetnsTarget& target, const ChangeSet& changes,
                          SysctlLedger& ledger) {
  std::string where = "apply to " + std::string(netnsRoleName(target.role)) + " namespace " +
                      target.path;
  auto ns = Netns::open(target.path);
  if (!ns) return fail(ns.error().wrap(where));
  auto rtnl = Rtnl::openIn(*ns);
  if (!rtnl) return fail(rtnl.error().wrap(where));
  auto nft = NftKernel::openIn(*ns);
  if (!nft) return fail(nft.error().wrap(where));

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
    TunnelSpec probe{"ambprobe0", TunnelKind::kGeneve, 1, *Ipv4::parse("192.0.2.1"), 6081, 1450};
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
    out = fail(ErrorCode::kUnsupported,
               "this kernel can create neither geneve nor vxlan links (" +
                   geneve.error().message() + "); ambient redirection needs one of them");
  }).join();
  return out;
}

}  // namespace ambient
