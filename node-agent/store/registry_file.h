// The pod registry as a snapshot plus an append-only journal (JournalFile): one change costs
// one short append. Mode 0600. Touches files.
#pragma once

#include <string>

#include "common/sys/journal_file.h"
#include "node-agent/core/agent_ports.h"

namespace ambient {

class RegistryFile : public RegistryStore {
 public:
  explicit RegistryFile(std::string path) : path_(path), file_(std::move(path)) {}
  // The saved registry; an empty one when nothing was saved yet. A corrupt file is an error
  // that names it: the operator decides (the kernel state is left as it is meanwhile).
  Result<PodRegistry> load();
  Status putPod(const PodRecord& pod) override;
  Status removePod(const std::string& uid) override;
  Status setZtunnel(const ZtunnelRecord& ztunnel) override;
  const std::string& path() const { return path_; }

 private:
  Status append(const std::string& line);
  std::string path_;
  JournalFile file_;
  PodRegistry mirror_;  // what is on disk, for compaction
};

}  // namespace ambient
