// The IPv6 redirection probe (the ztunnel namespace's IPv6 objects, applied in a throwaway
// namespace of a short-lived thread) and the scan for strict IPv6 reverse-path filters.
// Touches the kernel.
#include "common/sys/ipv6_probe.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "common/core/compute_plan.h"
#include "common/core/diff.h"
#include "common/sys/linux_kernel.h"
#include "common/sys/netns.h"
#include "common/sys/nft_kernel.h"
#include "common/sys/unique_fd.h"

namespace ambient {
namespace {

// The probe plan sets no sysctl: nothing is ever recorded.
class NoLedger : public SysctlLedger {
 public:
  std::map<std::string, std::string> entries(NetnsRole) const override { return {}; }
  std::optional<std::string> original(NetnsRole, const std::string&) const override {
    return std::nullopt;
  }
  Status record(NetnsRole, const std::string&, const std::string&) override { return {}; }
  Status forget(NetnsRole, const std::string&) override { return {}; }
};

// The IPv6 part of a ztunnel namespace's plan (documentation addresses): its ip -6 rules, its
// local ::/0 route and its ip6 table with TPROXY to [::1] and the socket match. The tunnels
// and their addresses are left out: their kinds are the tunnel probe's business.
NetnsPlan ipv6ProbePlan() {
  PlanInput in;
  in.ztunnel.podIp = *Ipv4::parse("192.0.2.2");
  in.ztunnel.nodeAddr = IpAddress("192.0.2.1");
  in.ztunnel.hostVeth = "ambprobe0";
  in.ztunnel.podIp6 = IpAddress("2001:db8::2");
  NetnsPlan full = computeZtunnelPlan(in).value();  // fixed valid input: a failure is a bug
  NetnsPlan p = emptyPlan(NetnsRole::kZtunnel);
  for (const auto& r : full.rules) {
    if (r.family == IpAddress::Family::kV6) p.rules.push_back(r);
  }
  for (const auto& r : full.routes) {
    if (r.dst.family() == IpAddress::Family::kV6) p.routes.push_back(r);
  }
  p.nft6 = full.nft6;
  return p;
}

Status bringLoopbackUp() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(ErrorCode::kKernel, "socket(AF_INET)", errno);
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &req) != 0) {
    return fail(ErrorCode::kKernel, "read the flags of lo", errno);
  }
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &req) != 0) {
    return fail(ErrorCode::kKernel, "set lo up", errno);
  }
  return {};
}

}  // namespace

std::optional<std::string> probeIpv6Redirect() {
  if (::access("/proc/sys/net/ipv6", F_OK) != 0) {
    return "this kernel has no IPv6 (/proc/sys/net/ipv6 is missing)";
  }
  std::optional<std::string> out = "the IPv6 probe did not run";
  std::thread([&] {
    // This thread alone moves to a new, empty namespace and dies with it.
    if (::unshare(CLONE_NEWNET) != 0) {
      out = std::string("probe IPv6 redirection: unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    // As in a pod: IPv6 takes no local route on a loopback that is down.
    if (auto s = bringLoopbackUp(); !s) {
      out = "probe IPv6 redirection: " + s.error().message();
      return;
    }
    const NetnsTarget here{"/proc/thread-self/ns/net", NetnsRole::kZtunnel};
    LinuxKernel kernel;
    NoLedger ledger;
    ChangeSet changes = diff(ipv6ProbePlan(), ObservedState{emptyPlan(NetnsRole::kZtunnel)});
    if (auto s = kernel.apply(here, changes, ledger); !s) {
      out = "this kernel cannot redirect IPv6 (" + s.error().message() + ")";
      return;
    }
    out = std::nullopt;
  }).join();
  return out;
}

Result<std::vector<std::string>> findStrictIpv6ReversePathFilters(const std::string& netnsPath) {
  auto ns = Netns::open(netnsPath);
  if (!ns) return fail(ns.error());
  auto nft = NftKernel::openIn(*ns);
  if (!nft) return fail(nft.error());
  std::vector<ForeignRule> rules;
  for (const char* family : {"ip6", "inet"}) {
    auto some = nft->dumpRules(family);
    if (!some) return fail(some.error());
    rules.insert(rules.end(), some->begin(), some->end());
  }
  return strictIpv6ReversePathFilters(rules);
}

}  // namespace ambient
