// ztunnel's error type: names and operator text. Pure.
#include "ztunnel/core/error.h"

#include <cstring>

namespace zt {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return "invalid-input";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kTls: return "tls";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::message() const {
  if (sysErrno == 0) return context;
  return context + ": " + std::strerror(sysErrno);
}

Error Error::wrap(std::string_view outer) const {
  Error e = *this;
  e.context = std::string(outer) + ": " + context;
  return e;
}

}  // namespace zt
