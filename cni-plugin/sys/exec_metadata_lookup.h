// The real MetadataLookup of ambient-cni: runs ambient-cni-api-lookup (installed next to the
// plugin) with a deadline and parses its reply. Touches processes.
#pragma once

#include <string>

#include "cni-plugin/core/metadata_lookup.h"

namespace ambient::cni {

class ExecMetadataLookup : public MetadataLookup {
 public:
  explicit ExecMetadataLookup(std::string helperPath) : helperPath_(std::move(helperPath)) {}
  // The helper's path next to the running executable.
  static std::string besideSelf();

  // The helper gets `timeoutMs` for its API calls; it is killed when it has not answered
  // 1 s after that.
  Result<ApiObjects> lookup(const ApiLookupTarget& target, const std::string& podNamespace,
                            const std::string& podName) override;

 private:
  std::string helperPath_;
};

}  // namespace ambient::cni
