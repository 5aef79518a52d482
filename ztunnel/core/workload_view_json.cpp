// JSON <-> WorkloadView in upstream ztunnel's local-config field names. Pure; nlohmann's
// exceptions stay inside this file.
#include <charconv>
#include <nlohmann/json.hpp>

#include "ztunnel/core/workload_view.h"
#include "ztunnel/core/workload_view_policies.h"

namespace zt {
namespace {

using nlohmann::json;

struct ParseError {
  std::string what;
};

[[noreturn]] void bad(const std::string& where, const std::string& why) {
  throw ParseError{where + ": " + why};
}

std::string getString(const json& o, const char* key, const std::string& where, bool required) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) bad(where, std::string("missing field '") + key + "'");
    return {};
  }
  if (!it->is_string()) bad(where, std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

IpAddr parseIp(const std::string& text, const std::string& where) {
  auto ip = IpAddr::parse(text);
  if (!ip) bad(where, ip.error().context);
  return *ip;
}

// "network/ip" (network may be empty: "/10.0.0.1"); a bare IP is accepted too.
std::pair<std::string, IpAddr> parseNetworkAddress(const std::string& text,
                                                   const std::string& where) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return {"", parseIp(text, where)};
  return {text.substr(0, slash), parseIp(text.substr(slash + 1), where)};
}

uint16_t parsePort(const std::string& text, const std::string& where) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 65535)
    bad(where, "bad port '" + text + "'");
  return static_cast<uint16_t>(v);
}

PortMap parsePorts(const json& o, const std::string& where) {
  PortMap ports;
  if (o.is_null()) return ports;
  if (!o.is_object()) bad(where, "ports must be an object {\"<port>\": <targetPort>}");
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (!it.value().is_number_unsigned() || it.value().get<uint64_t>() > 65535)
      bad(where, "target port for '" + it.key() + "' must be 0..65535");
    ports[parsePort(it.key(), where)] = static_cast<uint16_t>(it.value().get<uint64_t>());
  }
  return ports;
}

HealthStatus parseStatus(const json& o, const std::string& where) {
  std::string s = getString(o, "status", where, false);
  if (s.empty() || s == "Healthy") return HealthStatus::kHealthy;
  if (s == "Unhealthy") return HealthStatus::kUnhealthy;
  bad(where, "status must be Healthy or Unhealthy, got '" + s + "'");
}

std::optional<GatewayAddress> parseGateway(const json& o, const char* key,
                                           const std::string& where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  std::string w = where + "." + key;
  if (!it->is_object()) bad(w, "must be an object {destination, hboneMtlsPort}");
  GatewayAddress g;
  auto dst = it->find("destination");
  if (dst == it->end()) bad(w, "missing field 'destination'");
  if (dst->is_string()) {
    auto [net, ip] = parseNetworkAddress(dst->get<std::string>(), w);
    g.network = net;
    g.address = ip;
  } else if (dst->is_object()) {
    g.hostnameNamespace = getString(*dst, "namespace", w, true);
    g.hostname = getString(*dst, "hostname", w, true);
  } else {
    bad(w, "destination must be \"network/IP\" or {namespace, hostname}");
  }
  auto port = it->find("hboneMtlsPort");
  if (port != it->end()) {
    // Port 0 cannot be dialled (found by fuzz-workload_view: a waypoint route to port 0).
    if (!port->is_number_unsigned() || port->get<uint64_t>() == 0 ||
        port->get<uint64_t>() > 65535) {
      bad(w, "hboneMtlsPort must be a port number 1-65535");
    }
    g.hboneMtlsPort = static_cast<uint16_t>(port->get<uint64_t>());
  }
  return g;
}

TunnelProtocol parseProtocol(const json& o, const std::string& where) {
  std::string p = getString(o, "protocol", where, false);
  if (p.empty()) p = getString(o, "tunnelProtocol", where, false);
  if (p.empty() || p == "TCP" || p == "NONE") return TunnelProtocol::kTcp;
  if (p == "HBONE") return TunnelProtocol::kHbone;
  bad(where, "protocol must be HBONE or TCP, got '" + p + "'");
}

Workload parseWorkload(const json& o, const std::string& where) {
  if (!o.is_object()) bad(where, "must be an object");
  Workload w;
  w.uid = getString(o, "uid", where, false);
  w.name = getString(o, "name", where, false);
  w.ns = getString(o, "namespace", where, true);
  std::string sa = getString(o, "serviceAccount", where, false);
  if (!sa.empty()) w.serviceAccount = sa;
  w.trustDomain = getString(o, "trustDomain", where, false);
  w.node = getString(o, "node", where, false);
  w.network = getString(o, "network", where, false);
  auto ips = o.find("workloadIps");
  if (ips == o.end() || !ips->is_array()) bad(where, "missing array 'workloadIps'");
  for (const auto& ip : *ips) {
    if (!ip.is_string()) bad(where, "workloadIps entries must be strings");
    w.workloadIps.push_back(parseIp(ip.get<std::string>(), where));
  }
  w.protocol = parseProtocol(o, where);
  w.status = parseStatus(o, where);
  w.waypoint = parseGateway(o, "waypoint", where);
  auto svcs = o.find("services");
  if (svcs != o.end() && !svcs->is_null()) {
    if (!svcs->is_object()) bad(where, "services must be {\"ns/hostname\": {ports}}");
    for (auto it = svcs->begin(); it != svcs->end(); ++it)
      w.services[it.key()] = parsePorts(it.value(), where + ".services." + it.key());
  }
  if (auto it = o.find("labels"); it != o.end() && !it->is_null()) {
    if (!it->is_object()) bad(where, "labels must be {\"key\": \"value\"}");
    for (auto l = it->begin(); l != it->end(); ++l) {
      if (!l.value().is_string()) bad(where, "label '" + l.key() + "' must be a string");
      w.labels[l.key()] = l.value().get<std::string>();
    }
  }
  if (auto it = o.find("authorizationPolicies"); it != o.end() && !it->is_null()) {
    if (!it->is_array()) bad(where, "authorizationPolicies must be a list of \"ns/name\" keys");
    for (const auto& key : *it) {
      if (!key.is_string()) bad(where, "authorizationPolicies entries must be strings");
      w.authorizationPolicies.push_back(key.get<std::string>());
    }
  }
  return w;
}

Service parseService(const json& o, const std::string& where) {
  if (!o.is_object()) bad(where, "must be an object");
  Service s;
  s.name = getString(o, "name", where, true);
  s.ns = getString(o, "namespace", where, true);
  s.hostname = getString(o, "hostname", where, true);
  auto vips = o.find("vips");
  if (vips == o.end() || !vips->is_array()) bad(where, "missing array 'vips'");
  for (const auto& v : *vips) {
    if (!v.is_string()) bad(where, "vips entries must be \"network/IP\" strings");
    s.vips.push_back(parseNetworkAddress(v.get<std::string>(), where));
  }
  auto ports = o.find("ports");
  s.ports = parsePorts(ports == o.end() ? json() : *ports, where + ".ports");
  auto eps = o.find("endpoints");
  if (eps != o.end() && !eps->is_null()) {
    if (!eps->is_object()) bad(where, "endpoints must be {\"<uid>\": {workloadUid, port, status}}");
    for (auto it = eps->begin(); it != eps->end(); ++it) {
      std::string w = where + ".endpoints." + it.key();
      Endpoint e;
      e.workloadUid = getString(it.value(), "workloadUid", w, false);
      if (e.workloadUid.empty()) e.workloadUid = it.key();
      auto port = it.value().find("port");
      e.port = parsePorts(port == it.value().end() ? json() : *port, w);
      e.status = parseStatus(it.value(), w);
      s.endpoints[it.key()] = e;
    }
  }
  auto sans = o.find("subjectAltNames");
  if (sans != o.end() && sans->is_array())
    for (const auto& san : *sans)
      if (san.is_string()) s.subjectAltNames.push_back(san.get<std::string>());
  s.waypoint = parseGateway(o, "waypoint", where);
  return s;
}

json renderPorts(const PortMap& ports) {
  json o = json::object();
  for (auto [from, to] : ports) o[std::to_string(from)] = to;
  return o;
}

json renderGateway(const GatewayAddress& g) {
  json o;
  if (g.address)
    o["destination"] = g.network + "/" + g.address->toString();
  else
    o["destination"] = {{"namespace", g.hostnameNamespace}, {"hostname", g.hostname}};
  o["hboneMtlsPort"] = g.hboneMtlsPort;
  return o;
}

const char* statusName(HealthStatus s) {
  return s == HealthStatus::kHealthy ? "Healthy" : "Unhealthy";
}

}  // namespace

Result<WorkloadView> parseWorkloadView(std::string_view text, std::string_view defaultTrustDomain) {
  WorkloadView view;
  view.trustDomain = std::string(defaultTrustDomain);
  try {
    json doc = json::parse(text.begin(), text.end());
    if (!doc.is_object()) bad("config", "top level must be an object {workloads, services}");
    if (auto it = doc.find("workloads"); it != doc.end() && !it->is_null()) {
      if (!it->is_array()) bad("workloads", "must be an array");
      for (size_t i = 0; i < it->size(); ++i)
        view.workloads.push_back(parseWorkload((*it)[i], "workloads[" + std::to_string(i) + "]"));
    }
    if (auto it = doc.find("services"); it != doc.end() && !it->is_null()) {
      if (!it->is_array()) bad("services", "must be an array");
      for (size_t i = 0; i < it->size(); ++i)
        view.services.push_back(parseService((*it)[i], "services[" + std::to_string(i) + "]"));
    }
    if (std::string why = parseViewPolicies(doc, view.policies); !why.empty()) bad("policies", why);
  } catch (const ParseError& e) {
    return fail(ErrorCode::kInvalidInput, "config " + e.what);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kInvalidInput, std::string("config is not valid JSON: ") + e.what());
  }
  if (auto st = view.finalize(); !st) return fail(st.error());
  return view;
}

std::string renderWorkloadView(const WorkloadView& view) {
  json doc;
  doc["workloads"] = json::array();
  for (const Workload& w : view.workloads) {
    json o;
    o["uid"] = w.uid;
    o["name"] = w.name;
    o["namespace"] = w.ns;
    o["serviceAccount"] = w.serviceAccount;
    o["trustDomain"] = w.trustDomain;
    o["node"] = w.node;
    o["network"] = w.network;
    o["workloadIps"] = json::array();
    for (const auto& ip : w.workloadIps) o["workloadIps"].push_back(ip.toString());
    o["protocol"] = w.protocol == TunnelProtocol::kHbone ? "HBONE" : "TCP";
    o["status"] = statusName(w.status);
    if (w.waypoint) o["waypoint"] = renderGateway(*w.waypoint);
    o["services"] = json::object();
    for (const auto& [k, p] : w.services) o["services"][k] = renderPorts(p);
    if (!w.labels.empty()) o["labels"] = w.labels;
    if (!w.authorizationPolicies.empty()) o["authorizationPolicies"] = w.authorizationPolicies;
    doc["workloads"].push_back(o);
  }
  doc["services"] = json::array();
  for (const Service& s : view.services) {
    json o;
    o["name"] = s.name;
    o["namespace"] = s.ns;
    o["hostname"] = s.hostname;
    o["vips"] = json::array();
    for (const auto& [net, ip] : s.vips) o["vips"].push_back(net + "/" + ip.toString());
    o["ports"] = renderPorts(s.ports);
    o["endpoints"] = json::object();
    for (const auto& [uid, e] : s.endpoints)
      o["endpoints"][uid] = {{"workloadUid", e.workloadUid},
                             {"port", renderPorts(e.port)},
                             {"status", statusName(e.status)}};
    o["subjectAltNames"] = s.subjectAltNames;
    if (s.waypoint) o["waypoint"] = renderGateway(*s.waypoint);
    doc["services"].push_back(o);
  }
  renderPolicySources(view.policies, doc);
  return doc.dump(2);
}

}  // namespace zt
