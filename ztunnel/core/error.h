// ztunnel's error and result types (same shape as the project's common/core/error.h). Pure.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace zt {

enum class ErrorCode {
  kInvalidInput,  // bad flag, bad config field, bad address
  kNotFound,      // file, workload, identity or certificate missing
  kIo,            // file or socket I/O failed
  kTls,           // OpenSSL reported an error
  kProtocol,      // a peer sent something we cannot accept
  kUnavailable,   // not ready yet; retry later
  kInternal,      // a bug
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  int sysErrno = 0;     // errno, when a system call failed
  std::string context;  // what failed, on which object, what to check

  bool isNotFound() const { return code == ErrorCode::kNotFound; }
  // "context: strerror(errno)".
  std::string message() const;
  Error wrap(std::string_view outer) const;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string context, int sysErrno = 0) {
  return tl::unexpected<Error>(Error{code, sysErrno, std::move(context)});
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

}  // namespace zt
