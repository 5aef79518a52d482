// Loads the workload/service view file and re-reads it when it changes (inode, size, mtime),
// publishing each good version atomically; a bad version is logged and the old one kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>

#include "ztunnel/sys/proxy_state.h"

namespace zt {

class ConfigWatcher {
 public:
  explicit ConfigWatcher(ProxyState& state) : state_(state) {}
  // Returns an error only when the file exists and cannot be used.
  Status poll();
  bool loaded() const { return loaded_; }
  uint64_t published() const { return published_; }  // views published so far

 private:
  ProxyState& state_;
  bool loaded_ = false;
  uint64_t published_ = 0;
  ino_t inode_ = 0;
  off_t size_ = -1;
  timespec mtime_{};
};

}  // namespace zt
