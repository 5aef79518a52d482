// Pod and namespace metadata from a local JSON file (until the Kubernetes API watch), re-read
// when its modification time changes. A file that cannot be read keeps the last good snapshot.
// Touches files.
#pragma once

#include <ctime>
#include <mutex>
#include <string>

#include "node-agent/core/agent_ports.h"

namespace ambient {

class MetadataFileSource : public MetadataSource {
 public:
  explicit MetadataFileSource(std::string path) : path_(std::move(path)) {}
  SnapshotPtr snapshot() override;
  // The last read error ("" when the last read was good).
  std::string lastError() const;

 private:
  std::string path_;
  mutable std::mutex mu_;
  timespec mtime_{};
  SnapshotPtr snapshot_ = std::make_shared<MetadataSnapshot>();
  std::string lastError_;
};

}  // namespace ambient
