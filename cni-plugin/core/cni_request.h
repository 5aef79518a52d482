// CNI request parsing, version handling, prevResult IP extraction and error JSON. Pure.
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

// Parses CNI_ARGS ("K=V;K=V"), keys in any order; unknown keys kept, ignored by callers.
std::map<std::string, std::string> parseCniArgs(const std::string& text);

// Pod IPs (address without prefix) on interface `ifname` with a sandbox, from prevResult.
std::vector<std::string> podIps(const std::string& prevResultJson, const std::string& ifname);

std::string errorJson(const std::string& cniVersion, const CniFailure& f);
std::string versionJson(const std::string& cniVersion);

}  // namespace ambient::cni
