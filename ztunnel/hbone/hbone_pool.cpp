// HBONE connection pool. Touches the kernel through the connections.
#include "ztunnel/hbone/hbone_pool.h"

#include "ztunnel/hbone/hbone_connection.h"

namespace zt {

HbonePool::~HbonePool() = default;

void HbonePool::untrack(HboneConnection* c) {
  all_.erase(c);
  for (auto it = byKey_.begin(); it != byKey_.end();) {
    if (it->second == c)
      it = byKey_.erase(it);
    else
      ++it;
  }
}

HboneConnection* HbonePool::find(const std::string& key) {
  auto [from, to] = byKey_.equal_range(key);
  for (auto it = from; it != to; ++it)
    if (it->second->acceptsStreams()) return it->second;
  return nullptr;
}

void HbonePool::drain() {
  (void)ctx_;
  auto all = all_;  // goAway may close (and untrack) a connection
  for (HboneConnection* c : all) c->goAway();
}

}  // namespace zt
