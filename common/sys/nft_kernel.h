// nftables through libnftnl + libmnl: observe our table (chains, rules, sets, members,
// counters) and apply nft changes as one atomic batch. The socket is opened inside the
// namespace. Touches the kernel.
#pragma once

#include <libmnl/libmnl.h>

#include <functional>
#include <optional>
#include <vector>

#include "common/core/diff.h"
#include "common/core/rpfilter_check.h"
#include "common/sys/c_ptr.h"
#include "common/sys/netns.h"

namespace ambient {

class NftKernel {
 public:
  static Result<NftKernel> openIn(const Netns& ns);

  // Our table as data, or nullopt when it does not exist.
  // nullopt when the table does not exist (or the kernel has no such family).
  Result<std::optional<NftTableSpec>> observe(NftFamily family, const std::string& table);
  // Every rule of every table of `family` ("ip6" or "inet"), ours included: one dump. Empty
  // when the kernel has no nf_tables for the family.
  Result<std::vector<ForeignRule>> dumpRules(const std::string& family);
  // NftTableSpec and NftElements changes, in order, in one transaction: all or nothing.
  Status applyBatch(const std::vector<const Change*>& changes);

 private:
  explicit NftKernel(mnl_socket* s);
  // Sends one request and feeds every reply message to `onMsg`; retries the whole request when
  // the kernel marks a dump interrupted.
  Status request(const std::function<nlmsghdr*(char* buf, uint32_t seq)>& build,
                 const std::function<void(const nlmsghdr*)>& onMsg, const std::string& what,
                 const std::function<void()>& onRetry);

  CPtr<mnl_socket, mnl_socket_close> sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
};

}  // namespace ambient
