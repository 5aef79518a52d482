// The one error type and result type of the project. Pure.
#pragma once

#include <string>
#include <tl/expected.hpp>

namespace ambient {

enum class ErrorCode {
  kInvalidInput,  // the caller's data is wrong (bad address, name too long, ...)
  kNotFound,      // an object or file does not exist
  kExists,        // an object already exists
  kUnsupported,   // the kernel or build lacks a feature (no geneve, ...)
  kKernel,        // a netlink/nftables/sysctl call failed
  kIo,            // file or socket I/O failed
  kProtocol,      // a peer sent something we cannot parse
  kTls,           // OpenSSL reported an error (ztunnel)
  kUnavailable,   // a dependency is not ready (agent, ztunnel, API server); retry later
  kInternal,      // a bug
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  int sysErrno = 0;     // errno, when a system call failed
  std::string context;  // what failed, on which object, what to check

  bool isNotFound() const { return code == ErrorCode::kNotFound; }
  bool isExists() const { return code == ErrorCode::kExists; }
  // "context: strerror(errno)" — the text shown to operators.
  std::string message() const;
  // Prefixes the context with an outer step: "apply node: <inner>".
  Error wrap(std::string_view outer) const;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string context, int sysErrno = 0) {
  return tl::unexpected<Error>(Error{code, sysErrno, std::move(context)});
}
inline tl::unexpected<Error> fail(Error error) {
  return tl::unexpected<Error>(std::move(error));
}

// Maps a kernel errno to a code: ENOENT/ESRCH/ENODEV -> kNotFound, EEXIST -> kExists,
// EOPNOTSUPP/EAFNOSUPPORT/EPROTONOSUPPORT -> kUnsupported, anything else -> kKernel.
Error kernelError(int sysErrno, std::string context);

}  // namespace ambient
