// Minimal HTTP/1.1 request-line parsing and response rendering for the status/admin ports. Pure.
#pragma once

#include <string>
#include <string_view>

namespace zt {

struct HttpRequestHead {
  enum class State { kIncomplete, kComplete, kBad } state = State::kIncomplete;
  std::string method;
  std::string path;  // without the query string
};

// Looks at the bytes received so far (at most a few KB are kept by the caller).
HttpRequestHead parseHttpRequestHead(std::string_view bytes);

std::string renderHttpResponse(int status, std::string_view contentType, std::string_view body);

}  // namespace zt
