// Apply nft changes as one nfnetlink batch: the kernel commits all of it or none. Each message
// notes the `nft` command it stands for. Touches the kernel.
#include <arpa/inet.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>  // libnftnl headers use FILE without including it
#include <cstring>
#include <map>

#include "common/core/diff.h"
#include "common/sys/nft_codec.h"
#include "common/sys/nft_kernel.h"

namespace ambient {
namespace {

constexpr uint32_t kIpv4AddrType = 7;  // nft's TYPE_IPADDR ("ipv4_addr")
constexpr uint32_t kIpv6AddrType = 8;  // nft's TYPE_IP6ADDR ("ipv6_addr")

using Table = CPtr<nftnl_table, nftnl_table_free>;
using Chain = CPtr<nftnl_chain, nftnl_chain_free>;
using Rule = CPtr<nftnl_rule, nftnl_rule_free>;
using Set = CPtr<nftnl_set, nftnl_set_free>;

uint16_t familyNumber(NftFamily family) {
  switch (family) {
    case NftFamily::kBridge:
      return NFPROTO_BRIDGE;
    case NftFamily::kIp6:
      return NFPROTO_IPV6;
    case NftFamily::kIp:
      break;
  }
  return NFPROTO_IPV4;
}

// "ip ambient_redirect": the table as nft(8) names it, for the messages.
std::string tableRef(NftFamily family, const std::string& table) {
  return std::string(nftFamilyName(family)) + " " + table;
}

// Bridge-family hook numbers (NF_BR_*) equal the inet ones for the hooks we use.
uint32_t hookNumber(const std::string& hook) {
  if (hook == "prerouting") return NF_INET_PRE_ROUTING;
  if (hook == "input") return NF_INET_LOCAL_IN;
  if (hook == "forward") return NF_INET_FORWARD;
  if (hook == "output") return NF_INET_LOCAL_OUT;
  return NF_INET_POST_ROUTING;
}

// Accumulates the batch and remembers which object each sequence number stands for, so a
// kernel error names it.
class Batch {
 public:
  explicit Batch(size_t limit) : buf_(limit * 2), limit_(limit) {
    b_ = mnl_nlmsg_batch_start(buf_.data(), limit_);
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(b_)), seq_++);
    next();
  }
  ~Batch() { mnl_nlmsg_batch_stop(b_); }

  nlmsghdr* hdr(uint16_t type, NftFamily family, uint16_t flags, std::string what) {
    whats_[seq_] = std::move(what);
    return nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(b_)), type,
                                 familyNumber(family), flags | NLM_F_ACK, seq_++);
  }
  void next() { overflow_ |= !mnl_nlmsg_batch_next(b_); }
  void finish() {
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(b_)), seq_++);
    next();
  }
  bool overflow() const { return overflow_; }
  void* data() { return mnl_nlmsg_batch_head(b_); }
  size_t size() { return mnl_nlmsg_batch_size(b_); }
  std::string what(uint32_t seq) const {
    auto it = whats_.find(seq);
    return it == whats_.end() ? "nft batch" : it->second;
  }

 private:
  std::vector<char> buf_;
  size_t limit_;
  mnl_nlmsg_batch* b_;
  uint32_t seq_ = 1;
  bool overflow_ = false;
  std::map<uint32_t, std::string> whats_;
};

void addElements(Batch& b, uint16_t type, NftFamily family, const std::string& table,
                 const std::string& set, const std::vector<IpAddress>& elements) {
  if (elements.empty()) return;
  Set s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
  for (const auto& ip : elements) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, ip.bytes().data(), ip.isV4() ? 4 : 16);
    nftnl_set_elem_add(s.get(), e);
  }
  std::string verb = type == NFT_MSG_NEWSETELEM ? "add" : "delete";
  auto* nlh = b.hdr(type, family, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
                    verb + " element " + tableRef(family, table) + " " + set);
  nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
  b.next();
}

// add table F T; add set ...; add element ...; add chain ...; add rule ...
Status addTable(Batch& b, const NftTableSpec& t) {
  const std::string ref = tableRef(t.family, t.name);
  Table table(nftnl_table_alloc());
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, t.name.c_str());
  nftnl_table_nlmsg_build_payload(
      b.hdr(NFT_MSG_NEWTABLE, t.family, NLM_F_CREATE, "add table " + ref), table.get());
  b.next();
  uint32_t setId = 1;
  for (const auto& s : t.sets) {
    Set set(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, t.name.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
    const bool v6 = s.family == IpAddress::Family::kV6;
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, v6 ? kIpv6AddrType : kIpv4AddrType);
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, v6 ? 16 : 4);
    nftnl_set_set_u32(set.get(), NFTNL_SET_ID, setId++);
    nftnl_set_nlmsg_build_payload(
        b.hdr(NFT_MSG_NEWSET, t.family, NLM_F_CREATE, "add set " + ref + " " + s.name), set.get());
    b.next();
    addElements(b, NFT_MSG_NEWSETELEM, t.family, t.name, s.name, s.elements);
  }
  for (const auto& c : t.chains) {
    Chain chain(nftnl_chain_alloc());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, t.name.c_str());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, c.name.c_str());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, c.type.c_str());
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM, hookNumber(c.hook));
    nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, c.priority);
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_nlmsg_build_payload(
        b.hdr(NFT_MSG_NEWCHAIN, t.family, NLM_F_CREATE, "add chain " + ref + " " + c.name),
        chain.get());
    b.next();
    for (const auto& r : c.rules) {
      Rule rule(nftnl_rule_alloc());
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, t.name.c_str());
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, c.name.c_str());
      nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, familyNumber(t.family));
      if (auto s = lowerRule(r, rule.get()); !s) return s;
      nftnl_rule_nlmsg_build_payload(b.hdr(NFT_MSG_NEWRULE, t.family, NLM_F_CREATE | NLM_F_APPEND,
                                           "add rule " + ref + " " + c.name + " " + r.text),
                                     rule.get());
      b.next();
    }
  }
  return {};
}

void deleteTable(Batch& b, NftFamily family, const std::string& name) {
  Table table(nftnl_table_alloc());
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_nlmsg_build_payload(
      b.hdr(NFT_MSG_DELTABLE, family, 0, "delete table " + tableRef(family, name)), table.get());
  b.next();
}

size_t sizeEstimate(const std::vector<const Change*>& changes) {
  size_t n = 64 * 1024;
  for (const Change* c : changes) {
    if (auto* t = std::get_if<NftTableSpec>(&c->object)) {
      for (const auto& s : t->sets) n += 64 * s.elements.size();
      for (const auto& ch : t->chains) n += 1024 * (ch.rules.size() + 1);
    } else if (auto* e = std::get_if<NftElements>(&c->object)) {
      n += 64 * e->elements.size() + 256;
    }
  }
  return n;
}

}  // namespace

Status NftKernel::applyBatch(const std::vector<const Change*>& changes) {
  if (changes.empty()) return {};
  Batch b(sizeEstimate(changes));
  for (const Change* c : changes) {
    if (auto* t = std::get_if<NftTableSpec>(&c->object)) {
      if (c->kind != ChangeKind::kCreate) deleteTable(b, t->family, t->name);  // or replace
      if (c->kind != ChangeKind::kDelete) {
        if (auto s = addTable(b, *t); !s) return s;
      }
    } else if (auto* e = std::get_if<NftElements>(&c->object)) {
      addElements(b, c->kind == ChangeKind::kDelete ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
                  e->family, e->table, e->set, e->elements);
    }
  }
  b.finish();
  if (b.overflow()) return fail(ErrorCode::kInternal, "nft batch larger than its buffer");

  if (mnl_socket_sendto(sock_.get(), b.data(), b.size()) < 0) {
    return fail(ErrorCode::kKernel, "send nft batch", errno);
  }
  // The kernel handles the batch inside sendmsg: every ack is queued by now. Drain them all
  // and report the first error with the object it belongs to.
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  std::optional<Error> first;
  for (;;) {
    ssize_t n = recv(mnl_socket_get_fd(sock_.get()), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail(ErrorCode::kKernel, "read nft batch acknowledgements", errno);
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0 && !first) {
        first = kernelError(-err->error, "nft transaction aborted at \"" + b.what(nlh->nlmsg_seq) +
                                             "\"; nothing was changed");
      }
    }
  }
  if (first) return fail(*first);
  return {};
}

}  // namespace ambient
