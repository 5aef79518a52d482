// The bearer token to send: a static token, or a token file re-read whenever it changes
// (service-account tokens are rotated on disk). Touches the filesystem; thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "common/core/error.h"

namespace ambient::k8s {

class TokenSource {
 public:
  TokenSource(std::string staticToken, std::string tokenFile);

  // The token for the next request (empty: none). With a token file: its content, trimmed,
  // re-read when the file's inode, size or mtime changed; an unreadable or empty file is an
  // error naming the file (the last good token is not reused: it is probably expired).
  Result<std::string> current();
  // Forces a re-read on the next call (after a 401).
  void invalidate();

 private:
  std::mutex mutex_;
  std::string staticToken_;
  std::string tokenFile_;
  std::string cached_;
  bool valid_ = false;
  unsigned long long inode_ = 0, size_ = 0;
  long long mtimeNs_ = 0;
};

}  // namespace ambient::k8s
