// The pod registry as a file, replaced atomically on every save (mode 0600). Touches files.
#pragma once

#include <string>

#include "node-agent/core/agent_ports.h"

namespace ambient {

class RegistryFile : public RegistryStore {
 public:
  explicit RegistryFile(std::string path) : path_(std::move(path)) {}
  // The saved registry; an empty one when the file does not exist. A corrupt file is an error
  // that names it: the operator decides (the kernel state is left as it is meanwhile).
  Result<PodRegistry> load() const;
  Status save(const PodRegistry& registry) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ambient
