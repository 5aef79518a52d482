// Metadata from a local JSON file, re-read on change. Touches files.
#include "node-agent/sys/metadata_file_source.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ambient {

SnapshotPtr MetadataFileSource::snapshot() {
  std::lock_guard lock(mu_);
  if (path_.empty()) return snapshot_;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    lastError_ = "metadata file " + path_ + ": " + std::strerror(errno);
    return snapshot_;
  }
  if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec) return snapshot_;
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parseMetadataFile(text.str());
  if (!parsed) {
    lastError_ = parsed.error().wrap("metadata file " + path_).message();
    return snapshot_;
  }
  snapshot_ = std::make_shared<const MetadataSnapshot>(std::move(*parsed));
  mtime_ = st.st_mtim;
  lastError_.clear();
  return snapshot_;
}

std::string MetadataFileSource::lastError() const {
  std::lock_guard lock(mu_);
  return lastError_;
}

}  // namespace ambient
