// The one error type of the project. Pure.
#include "common/core/error.h"

#include <cerrno>
#include <cstring>

namespace ambient {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid-input";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kExists:
      return "exists";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kKernel:
      return "kernel";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kTls:
      return "tls";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
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

Error kernelError(int sysErrno, std::string context) {
  ErrorCode code = ErrorCode::kKernel;
  switch (sysErrno) {
    case ENOENT:
    case ESRCH:
    case ENODEV:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kExists;
      break;
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      code = ErrorCode::kUnsupported;
      break;
    default:
      break;
  }
  return Error{code, sysErrno, std::move(context)};
}

}  // namespace ambient
