// One pass over the runtimes' netns directories and /proc/*/ns/net; each distinct namespace's
// global addresses through rtnetlink. Touches the kernel and /proc.
#include "node-agent/sys/proc_netns_scanner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "common/sys/c_ptr.h"
#include "common/sys/netns.h"
#include "common/sys/rtnl.h"

namespace ambient {
namespace {

using Cache = CPtr<nl_cache, nl_cache_free>;

struct NsId {
  dev_t dev;
  ino_t ino;
  auto operator<=>(const NsId&) const = default;
};

// The global addresses of every interface in `ns`, by interface name.
Result<std::map<IfName, std::vector<IpAddress>>> readAddresses(const Netns& ns) {
  auto sock = connectRtnl(ns);
  if (!sock) return fail(sock.error());
  nl_cache* linksRaw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &linksRaw); err < 0) {
    return fail(nlError(err, "links in " + ns.path()));
  }
  Cache links(linksRaw);
  nl_cache* addrsRaw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock->get(), &addrsRaw); err < 0) {
    return fail(nlError(err, "addresses in " + ns.path()));
  }
  Cache addrs(addrsRaw);
  std::map<IfName, std::vector<IpAddress>> out;
  for (auto* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE) continue;  // loopback, link-local
    nl_addr* local = rtnl_addr_get_local(a);
    if (!local) continue;
    int family = nl_addr_get_family(local);
    unsigned size = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    if (size == 0 || nl_addr_get_len(local) != size) continue;
    char name[IFNAMSIZ] = {};
    if (!rtnl_link_i2name(links.get(), rtnl_addr_get_ifindex(a), name, sizeof name)) continue;
    auto ifname = IfName::parse(name, "interface");  // the kernel's own names: always valid
    if (!ifname) continue;
    out[*ifname].push_back(
        IpAddress::fromBytes(family == AF_INET ? IpAddress::Family::kV4 : IpAddress::Family::kV6,
                             static_cast<const uint8_t*>(nl_addr_get_binary_addr(local))));
  }
  return out;
}

bool isPid(const char* name) {
  if (!*name) return false;
  for (const char* c = name; *c; ++c) {
    if (!std::isdigit(static_cast<unsigned char>(*c))) return false;
  }
  return true;
}

}  // namespace

Result<NetnsScan> ProcNetnsScanner::scan() {
  NetnsScan out;
  std::set<NsId> seen;
  struct stat st {};
  if (::stat(nodeNetns_.c_str(), &st) == 0) seen.insert({st.st_dev, st.st_ino});
  auto unreadable = [&](const std::string& what) {
    ++out.unreadable;
    if (out.firstProblem.empty()) out.firstProblem = what;
  };
  auto visit = [&](const std::string& path) {
    struct stat s {};
    if (::stat(path.c_str(), &s) != 0) {
      // A process that exited, or a namespace removed, between the listing and now.
      if (errno != ENOENT && errno != ESRCH) unreadable(path + ": " + std::strerror(errno));
      return;
    }
    if (!seen.insert({s.st_dev, s.st_ino}).second) return;
    auto ns = Netns::open(path);
    if (!ns) {
      if (!ns.error().isNotFound()) unreadable(ns.error().message());
      return;
    }
    auto addrs = readAddresses(*ns);
    if (!addrs) {
      unreadable(addrs.error().message());
      return;
    }
    ++out.namespaces;
    for (auto& [ifname, ips] : *addrs) {
      out.interfaces.push_back({path, static_cast<uint64_t>(s.st_ino), ifname, std::move(ips)});
    }
  };
  for (const std::string& dir : netnsDirs_) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;  // a runtime that is not installed
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      visit(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  DIR* proc = ::opendir(procDir_.c_str());
  if (!proc) return fail(ErrorCode::kIo, "cannot list " + procDir_, errno);
  while (dirent* e = ::readdir(proc)) {
    if (!isPid(e->d_name)) continue;
    visit(procDir_ + "/" + e->d_name + "/ns/net");
  }
  ::closedir(proc);
  return out;
}

}  // namespace ambient
