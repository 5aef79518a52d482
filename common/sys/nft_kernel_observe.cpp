// Observe our nftables table through netlink dumps. Touches the kernel.
#include <arpa/inet.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>  // libnftnl headers use FILE without including it
#include <cstring>

#include "common/sys/nft_codec.h"
#include "common/sys/nft_kernel.h"

namespace ambient {
namespace {

using Table = CPtr<nftnl_table, nftnl_table_free>;
using Chain = CPtr<nftnl_chain, nftnl_chain_free>;
using Rule = CPtr<nftnl_rule, nftnl_rule_free>;
using Set = CPtr<nftnl_set, nftnl_set_free>;

// A GETRULE dump request of `family`, of one table or (nullptr) of all.
nlmsghdr* ruleDump(char* buf, uint32_t seq, uint16_t family, const char* table) {
  Rule r(nftnl_rule_alloc());
  if (table) nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table);
  auto* nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP, seq);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  return nlh;
}

std::string hookName(uint32_t hook) {
  switch (hook) {
    case NF_INET_PRE_ROUTING:
      return "prerouting";
    case NF_INET_LOCAL_IN:
      return "input";
    case NF_INET_FORWARD:
      return "forward";
    case NF_INET_LOCAL_OUT:
      return "output";
    case NF_INET_POST_ROUTING:
      return "postrouting";
  }
  return "hook" + std::to_string(hook);
}

}  // namespace

NftKernel::NftKernel(mnl_socket* s) : sock_(s), portid_(mnl_socket_get_portid(s)) {}

Result<NftKernel> NftKernel::openIn(const Netns& ns) {
  mnl_socket* s = nullptr;
  auto st = ns.run([&]() -> Status {
    s = mnl_socket_open(NETLINK_NETFILTER);
    if (!s) return fail(ErrorCode::kKernel, "open nfnetlink socket in " + ns.path(), errno);
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
      int e = errno;
      mnl_socket_close(s);
      s = nullptr;
      return fail(ErrorCode::kKernel, "bind nfnetlink socket in " + ns.path(), e);
    }
    return {};
  });
  if (!st) return fail(st.error());
  // Large batches (thousands of set members) need room on both sides; root may force it.
  int size = 8 << 20;
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  return NftKernel(s);
}

Status NftKernel::request(const std::function<nlmsghdr*(char*, uint32_t)>& build,
                          const std::function<void(const nlmsghdr*)>& onMsg,
                          const std::string& what, const std::function<void()>& onRetry) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  for (int attempt = 0; attempt < 5; ++attempt) {
    uint32_t seq = seq_++;
    nlmsghdr* nlh = build(buf.data(), seq);
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
      return fail(ErrorCode::kKernel, what, errno);
    }
    struct Ctx {
      const std::function<void(const nlmsghdr*)>* onMsg;
    } ctx{&onMsg};
    auto cb = [](const nlmsghdr* m, void* data) -> int {
      (*static_cast<Ctx*>(data)->onMsg)(m);
      return MNL_CB_OK;
    };
    int ret = 0;
    do {
      ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
      if (n < 0) return fail(ErrorCode::kKernel, what, errno);
      ret = mnl_cb_run(buf.data(), n, seq, portid_, cb, &ctx);
    } while (ret > 0);
    if (ret == 0) return {};
    if (errno == EINTR) {  // NLM_F_DUMP_INTR: the ruleset changed under the dump
      onRetry();
      continue;
    }
    return fail(kernelError(errno, what));
  }
  return fail(ErrorCode::kKernel, what + ": dump kept being interrupted");
}

Result<std::optional<NftTableSpec>> NftKernel::observe(NftFamily tableFamily,
                                                       const std::string& name) {
  const uint16_t family = tableFamily == NftFamily::kBridge ? NFPROTO_BRIDGE
                          : tableFamily == NftFamily::kIp6  ? NFPROTO_IPV6
                                                            : NFPROTO_IPV4;
  const std::string ref = std::string(nftFamilyName(tableFamily)) + " " + name;
  bool exists = false;
  auto st = request(
      [&](char* buf, uint32_t seq) {
        Table t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
        auto* nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, seq);
        nftnl_table_nlmsg_build_payload(nlh, t.get());
        return nlh;
      },
      [&](const nlmsghdr*) { exists = true; }, "read nft table " + ref, [] {});
  if (!st) {
    // EAFNOSUPPORT: a kernel without nf_tables for this family holds no such table either.
    if (st.error().isNotFound() || st.error().sysErrno == EAFNOSUPPORT)
      return std::optional<NftTableSpec>();
    return fail(st.error());
  }
  if (!exists) return std::optional<NftTableSpec>();

  NftTableSpec spec;
  spec.family = tableFamily;
  spec.name = name;
  st = request(
      [&](char* buf, uint32_t seq) {
        Chain c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name.c_str());
        auto* nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, family, NLM_F_DUMP, seq);
        nftnl_chain_nlmsg_build_payload(nlh, c.get());
        return nlh;
      },
      [&](const nlmsghdr* m) {
        Chain c(nftnl_chain_alloc());
        if (nftnl_chain_nlmsg_parse(m, c.get()) < 0) return;
        if (name != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) return;
        NftChainSpec chain;
        chain.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE)) {
          chain.type = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE);
        }
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
          chain.hook = hookName(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM));
          chain.priority = static_cast<int32_t>(nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO));
        }
        spec.chains.push_back(std::move(chain));
      },
      "list chains of nft table " + ref, [&] { spec.chains.clear(); });
  if (!st) return fail(st.error());

  st = request([&](char* buf, uint32_t seq) { return ruleDump(buf, seq, family, name.c_str()); },
               [&](const nlmsghdr* m) {
                 Rule r(nftnl_rule_alloc());
                 if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return;
                 if (name != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) return;
                 std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
                 for (auto& c : spec.chains) {
                   if (c.name == chain) c.rules.push_back(liftRule(r.get()));
                 }
               },
               "list rules of nft table " + ref,
               [&] {
                 for (auto& c : spec.chains) c.rules.clear();
               });
  if (!st) return fail(st.error());

  // Each set's name and key family (a 16-byte key holds IPv6 addresses).
  std::vector<std::pair<std::string, IpAddress::Family>> setNames;
  st = request(
      [&](char* buf, uint32_t seq) {
        Set s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name.c_str());
        auto* nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_GETSET, family, NLM_F_DUMP, seq);
        nftnl_set_nlmsg_build_payload(nlh, s.get());
        return nlh;
      },
      [&](const nlmsghdr* m) {
        Set s(nftnl_set_alloc());
        if (nftnl_set_nlmsg_parse(m, s.get()) < 0) return;
        if (name != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)) return;
        setNames.emplace_back(nftnl_set_get_str(s.get(), NFTNL_SET_NAME),
                              nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN) == 16
                                  ? IpAddress::Family::kV6
                                  : IpAddress::Family::kV4);
      },
      "list sets of nft table " + ref, [&] { setNames.clear(); });
  if (!st) return fail(st.error());

  for (const auto& named : setNames) {
    const std::string& setName = named.first;
    NftSetSpec set{setName, {}, named.second};
    st = request(
        [&](char* buf, uint32_t seq) {
          Set s(nftnl_set_alloc());
          nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name.c_str());
          nftnl_set_set_str(s.get(), NFTNL_SET_NAME, setName.c_str());
          auto* nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, seq);
          nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
          return nlh;
        },
        [&](const nlmsghdr* m) {
          Set s(nftnl_set_alloc());
          if (nftnl_set_elems_nlmsg_parse(m, s.get()) < 0) return;
          nftnl_set_elem_foreach(
              s.get(),
              [](nftnl_set_elem* e, void* data) -> int {
                uint32_t len = 0;
                const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
                auto* out = static_cast<std::vector<IpAddress>*>(data);
                const auto* bytes = static_cast<const uint8_t*>(key);
                if (key && len == 4)
                  out->push_back(IpAddress::fromBytes(IpAddress::Family::kV4, bytes));
                if (key && len == 16)
                  out->push_back(IpAddress::fromBytes(IpAddress::Family::kV6, bytes));
                return 0;
              },
              &set.elements);
        },
        "list members of nft set " + ref + " " + setName, [&] { set.elements.clear(); });
    if (!st) return fail(st.error());
    std::sort(set.elements.begin(), set.elements.end());
    spec.sets.push_back(std::move(set));
  }
  return std::optional<NftTableSpec>(std::move(spec));
}

Result<std::vector<ForeignRule>> NftKernel::dumpRules(const std::string& familyName) {
  const uint16_t family = familyName == "inet" ? NFPROTO_INET : NFPROTO_IPV6;
  std::vector<ForeignRule> out;
  auto st = request([&](char* buf, uint32_t seq) { return ruleDump(buf, seq, family, nullptr); },
                    [&](const nlmsghdr* m) {
                      Rule r(nftnl_rule_alloc());
                      if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return;
                      out.push_back(ForeignRule{
                          familyName, nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE),
                          nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN), liftRule(r.get())});
                    },
                    "list the rules of every " + familyName + " nft table", [&] { out.clear(); });
  if (!st) {
    if (st.error().sysErrno == EAFNOSUPPORT) return std::vector<ForeignRule>();
    return fail(st.error());
  }
  return out;
}

}  // namespace ambient
