// libFuzzer target: HBONE request handling without sockets or TLS: the CONNECT pseudo-headers as
// nghttp2 hands them to the server callbacks, validated by computeInboundTarget() against a fixed
// view; the authority's address parsing; the admin ports' HTTP/1.1 request-line parser. Pure.
//
// Input: up to six lines: :method, :authority, :scheme, :path, :protocol, the local node name.
// The whole input is also given to parseHttpRequestHead() and to the address parsers.
#include "fuzz_util.h"
#include "ztunnel/core/http_request.h"
#include "ztunnel/core/route_plan.h"

namespace {

const zt::WorkloadView& fixedView() {
  static const zt::WorkloadView view = [] {
    auto v = zt::parseWorkloadView(R"({"workloads":[
      {"uid":"a","name":"a","namespace":"foo","node":"node-a","workloadIps":["10.244.1.10"],
       "protocol":"HBONE"},
      {"uid":"b","name":"b","namespace":"foo","node":"node-b","workloadIps":["10.244.2.10"],
       "protocol":"HBONE"},
      {"uid":"c","name":"c","namespace":"bar","node":"node-a","workloadIps":["10.244.1.20"]},
      {"uid":"d","name":"d","namespace":"foo","node":"node-a","workloadIps":["fd00::10"],
       "protocol":"HBONE"}],
      "services":[]})",
                                   "cluster.local");
    if (!v) __builtin_trap();
    return *v;
  }();
  return view;
}

std::string nextLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string line(rest.substr(0, nl));
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::asView(data, size);
  const zt::WorkloadView& view = fixedView();

  std::string_view rest = text;
  zt::ConnectRequest req;
  req.method = nextLine(rest);
  req.authority = nextLine(rest);
  req.scheme = nextLine(rest);
  req.path = nextLine(rest);
  req.protocol = nextLine(rest);
  std::string node = nextLine(rest);
  auto d = zt::computeInboundTarget(view, req, node);
  fuzz::check(d.status == 200 || d.status == 400 || d.status == 401 || d.status == 405);
  if (d.status == 200) {
    fuzz::check(d.destination != nullptr && d.destination == view.findWorkloadByIp(d.target.ip));
    fuzz::check(d.destination->protocol == zt::TunnelProtocol::kHbone);
    fuzz::check(d.target.port != 0 && d.target.port != 15008 && d.target.port != 15001 &&
                d.target.port != 15006);
    fuzz::check(node.empty() || d.destination->node == node);
  } else {
    fuzz::check(d.destination == nullptr && !d.reason.empty());
  }

  // Addresses: whatever parses prints as text that parses back to the same value.
  if (auto sa = zt::SocketAddr::parse(req.authority)) {
    auto back = zt::SocketAddr::parse(sa->toString());
    fuzz::check(back.has_value() && *back == *sa);
  }
  if (auto ip = zt::IpAddr::parse(req.authority)) {
    auto back = zt::IpAddr::parse(ip->toString());
    fuzz::check(back.has_value() && *back == *ip);
  }

  auto head = zt::parseHttpRequestHead(text);
  if (head.state == zt::HttpRequestHead::State::kComplete) {
    fuzz::check(head.method.find(' ') == std::string::npos);
    fuzz::check(head.path.find('?') == std::string::npos);
  }
  return 0;
}
