// Per-worker registry of HBONE connections: all of them (for drain) and the reusable client
// ones keyed by (peer address, source identity, destination identity, source IP).
// Touches the kernel through the connections.
#pragma once

#include <map>
#include <set>
#include <string>

#include "ztunnel/sys/proxy_state.h"

namespace zt {

class HboneConnection;

class HbonePool {
 public:
  explicit HbonePool(WorkerContext& ctx) : ctx_(ctx) {}
  ~HbonePool();
  void track(HboneConnection* c) { all_.insert(c); }
  void untrack(HboneConnection* c);
  // A client connection for `key` with room for one more stream, or null.
  HboneConnection* find(const std::string& key);
  void add(const std::string& key, HboneConnection* c) { byKey_.emplace(key, c); }
  void drain();  // GOAWAY on server connections, close idle client ones

 private:
  WorkerContext& ctx_;
  std::set<HboneConnection*> all_;
  std::multimap<std::string, HboneConnection*> byKey_;
};

}  // namespace zt
