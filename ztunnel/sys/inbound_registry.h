// The open inbound connections of one worker with the facts their authorization was decided on,
// so that a policy update can re-check them and close the ones it now denies (as upstream
// ztunnel's PolicyWatcher does). Loop thread only; no socket work here.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "ztunnel/core/ip_addr.h"

namespace zt {

// A connection that a policy update can close (reset both sides).
class PolicyClosable {
 public:
  virtual void closeDeniedByPolicy() = 0;

 protected:
  ~PolicyClosable() = default;
};

struct InboundFacts {
  const char* listener = "";  // inbound_hbone, inbound_plaintext
  std::string peerIdentity;   // verified "spiffe://..." (HBONE), "" for plaintext
  SocketAddr source;          // the original client
  SocketAddr destination;     // the workload address and port dialled
  bool plaintext = false;
};

class InboundRegistry {
 public:
  void add(PolicyClosable* c, InboundFacts facts) { open_.emplace(c, std::move(facts)); }
  void remove(PolicyClosable* c) { open_.erase(c); }
  const InboundFacts* find(PolicyClosable* c) const {
    auto it = open_.find(c);
    return it == open_.end() ? nullptr : &it->second;
  }
  const std::unordered_map<PolicyClosable*, InboundFacts>& open() const { return open_; }
  size_t size() const { return open_.size(); }

 private:
  std::unordered_map<PolicyClosable*, InboundFacts> open_;
};

}  // namespace zt
