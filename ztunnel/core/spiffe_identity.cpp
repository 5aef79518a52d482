// SPIFFE identity parsing and the peer identity check used by both HBONE sides. Pure.
#include "ztunnel/core/spiffe_identity.h"

namespace zt {
namespace {

bool validSegment(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<SpiffeIdentity> SpiffeIdentity::parse(std::string_view uri) {
  constexpr std::string_view kScheme = "spiffe://";
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidInput,
                "identity '" + std::string(uri) +
                    "' is not spiffe://<td>/ns/<ns>/sa/<sa>: " + std::string(why));
  };
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("scheme");
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("no path");
  SpiffeIdentity id;
  id.trustDomain = std::string(rest.substr(0, slash));
  std::string_view path = rest.substr(slash + 1);
  if (path.substr(0, 3) != "ns/") return bad("path must start with ns/");
  path.remove_prefix(3);
  size_t sa = path.find("/sa/");
  if (sa == std::string_view::npos) return bad("missing /sa/");
  id.ns = std::string(path.substr(0, sa));
  id.serviceAccount = std::string(path.substr(sa + 4));
  if (!validSegment(id.trustDomain) || !validSegment(id.ns) || !validSegment(id.serviceAccount))
    return bad("empty or invalid segment");
  return id;
}

std::string SpiffeIdentity::toUri() const {
  return "spiffe://" + trustDomain + "/ns/" + ns + "/sa/" + serviceAccount;
}

Result<SpiffeIdentity> checkPeerIdentity(const std::vector<std::string>& uriSans,
                                         std::string_view trustDomain, std::string_view expected) {
  const std::string* found = nullptr;
  for (const auto& san : uriSans) {
    if (san.rfind("spiffe://", 0) != 0) continue;
    if (found)
      return fail(ErrorCode::kProtocol, "peer certificate has more than one SPIFFE URI SAN");
    found = &san;
  }
  if (!found) return fail(ErrorCode::kProtocol, "peer certificate has no SPIFFE URI SAN");
  auto id = SpiffeIdentity::parse(*found);
  if (!id) return fail(ErrorCode::kProtocol, id.error().context);
  if (id->trustDomain != trustDomain)
    return fail(ErrorCode::kProtocol,
                "peer identity " + *found + " is outside trust domain " + std::string(trustDomain));
  if (!expected.empty() && *found != expected)
    return fail(ErrorCode::kProtocol,
                "peer identity " + *found + " is not the expected " + std::string(expected));
  return id;
}

}  // namespace zt
