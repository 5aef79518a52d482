// CNI request parsing: versions, CNI_ARGS and the error and VERSION JSON. Pure.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace ambient::cni {

inline constexpr size_t kMaxStdinBytes = 1024 * 1024;
const std::vector<std::string>& supportedVersions();
bool isSupportedVersion(const std::string& v);
// Compares two supported versions ("0.4.0" >= "0.3.1"); false when either is unsupported.
bool versionAtLeast(const std::string& v, const std::string& min);

struct CniFailure {
  uint32_t code;
  std::string msg;
  std::string details;
};

// Parses CNI_ARGS ("K=V;K=V"), keys in any order; unknown keys kept, ignored by callers. Empty
// segments (";;", a trailing ";") are skipped; of a key given twice the last counts (libcni's
// rule; podman appends the caller's pairs after its own K8S_POD_NAME). The error (CNI code 4)
// names what is wrong: a pair without "=", an empty key, or an empty K8S_POD_NAMESPACE or
// K8S_POD_NAME.
tl::expected<std::map<std::string, std::string>, std::string> parseCniArgs(const std::string& text);

std::string errorJson(const std::string& cniVersion, const CniFailure& f);
std::string versionJson(const std::string& cniVersion);

}  // namespace ambient::cni
