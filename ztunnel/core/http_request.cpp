// HTTP/1.1 request-line parsing and response rendering. Pure.
#include "ztunnel/core/http_request.h"

namespace zt {

HttpRequestHead parseHttpRequestHead(std::string_view bytes) {
  HttpRequestHead h;
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() > 8192) h.state = HttpRequestHead::State::kBad;
    return h;
  }
  std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1, 5) != "HTTP/") {
    h.state = HttpRequestHead::State::kBad;
    return h;
  }
  h.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  h.path = std::string(target.substr(0, target.find('?')));
  h.state = HttpRequestHead::State::kComplete;
  return h;
}

std::string renderHttpResponse(int status, std::string_view contentType, std::string_view body) {
  const char* reason = status == 200   ? "OK"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 503 ? "Service Unavailable"
                                       : "Bad Request";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  out += "Content-Type: " + std::string(contentType) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace zt
