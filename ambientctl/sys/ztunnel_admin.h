// Reads ztunnel's admin port (127.0.0.1:15000 in ztunnel's pod, see ztunnel/README.md) from the
// node: the request is made from inside ztunnel's network namespace. Touches the network.
#pragma once

#include <cstdint>
#include <string>

#include "common/core/error.h"

namespace ambient {

struct ZtunnelAdmin {
  std::string netns;  // ztunnel's namespace file (the registry's record)
  std::string host = "127.0.0.1";
  uint16_t port = 15000;
};

// GET `path`; the body of a 200 answer. Errors say what could not be reached and why.
Result<std::string> ztunnelAdminGet(const ZtunnelAdmin& admin, const std::string& path);

}  // namespace ambient
