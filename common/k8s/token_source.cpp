// Bearer token from a static string or a rotating file. Touches the filesystem.
#include "common/k8s/token_source.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace ambient::k8s {

TokenSource::TokenSource(std::string staticToken, std::string tokenFile)
    : staticToken_(std::move(staticToken)), tokenFile_(std::move(tokenFile)) {}

void TokenSource::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  valid_ = false;
}

Result<std::string> TokenSource::current() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tokenFile_.empty()) return staticToken_;
  struct stat st {};
  if (::stat(tokenFile_.c_str(), &st) != 0) {
    int err = errno;
    valid_ = false;
    return fail(ErrorCode::kIo, "read bearer token file " + tokenFile_, err);
  }
  long long mtimeNs = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  if (valid_ && st.st_ino == inode_ && static_cast<unsigned long long>(st.st_size) == size_ &&
      mtimeNs == mtimeNs_) {
    return cached_;
  }
  std::ifstream in(tokenFile_);
  if (!in) {
    valid_ = false;
    return fail(ErrorCode::kIo, "read bearer token file " + tokenFile_, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  size_t start = 0;
  while (start < token.size() && std::isspace(static_cast<unsigned char>(token[start]))) ++start;
  token.erase(0, start);
  if (token.empty()) {
    valid_ = false;
    return fail(ErrorCode::kInvalidInput, "bearer token file " + tokenFile_ + " is empty");
  }
  cached_ = token;
  inode_ = st.st_ino;
  size_ = static_cast<unsigned long long>(st.st_size);
  mtimeNs_ = mtimeNs;
  valid_ = true;
  return cached_;
}

}  // namespace ambient::k8s
