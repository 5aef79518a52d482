// ambientctl's renderings of differences and of observed state. Pure.
#include "ambientctl/core/state_report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/core/hex.h"
#include "common/core/render.h"

namespace ambient {
namespace {

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(w[i] - r[i].size() + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string ruleText(const NftRule& observed, const NftChainSpec* desiredChain) {
  if (desiredChain) {
    for (const auto& r : desiredChain->rules) {
      if (r == observed) return r.text;
    }
  }
  std::string raw;
  for (const auto& e : observed.exprs) raw += e.str();
  return raw;
}

const NftChainSpec* findChain(const std::optional<NftTableSpec>* desired, const std::string& name) {
  if (!desired || !*desired) return nullptr;
  for (const auto& c : (*desired)->chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// The desired table of the same family as `observed`, when there is a plan.
const std::optional<NftTableSpec>* desiredTable(const NetnsPlan* desired,
                                                const NftTableSpec& observed) {
  if (!desired) return nullptr;
  return &desired->nftOf(observed.family);
}

// A namespace's tables, the ip table first (family bridge only in bridge mode, ip6 only with
// IPv6 pods).
std::vector<const NftTableSpec*> tablesOf(const NetnsPlan& p) {
  std::vector<const NftTableSpec*> out;
  if (p.nft) out.push_back(&*p.nft);
  if (p.bridgeNft) out.push_back(&*p.bridgeNft);
  if (p.nft6) out.push_back(&*p.nft6);
  return out;
}

std::string renderNftSection(const NftTableSpec& t, const NetnsPlan* desired) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : t.chains) {
    int n = 0;
    for (const auto& r : c.rules) {
      rows.push_back({c.name, std::to_string(++n),
                      r.counter ? std::to_string(r.counter->packets) : "-",
                      r.counter ? std::to_string(r.counter->bytes) : "-",
                      ruleText(r, findChain(desiredTable(desired, t), c.name))});
    }
  }
  std::string out = "nft table " + std::string(nftFamilyName(t.family)) + " " + t.name + "\n" +
                    table({"CHAIN", "#", "PACKETS", "BYTES", "RULE"}, rows) + "\n";
  for (const auto& s : t.sets) {
    out += "set " + s.name + " (" + std::to_string(s.elements.size()) + " members):";
    for (const auto& e : s.elements) out += " " + e.str();
    out += "\n\n";
  }
  return out;
}

nlohmann::json nftJson(const NftTableSpec& t, const NetnsPlan* desired) {
  using nlohmann::json;
  json chains = json::array();
  for (const auto& c : t.chains) {
    json rules = json::array();
    for (const auto& r : c.rules) {
      rules.push_back({{"rule", ruleText(r, findChain(desiredTable(desired, t), c.name))},
                       {"packets", r.counter ? r.counter->packets : 0},
                       {"bytes", r.counter ? r.counter->bytes : 0}});
    }
    chains.push_back({{"name", c.name},
                      {"type", c.type},
                      {"hook", c.hook},
                      {"priority", c.priority},
                      {"rules", rules}});
  }
  json sets = json::object();
  for (const auto& s : t.sets) {
    json members = json::array();
    for (const auto& e : s.elements) members.push_back(e.str());
    sets[s.name] = members;
  }
  return {
      {"family", nftFamilyName(t.family)}, {"table", t.name}, {"chains", chains}, {"sets", sets}};
}

std::string scopeName(RouteScope s) {
  return s == RouteScope::kLink ? "link" : s == RouteScope::kHost ? "host" : "global";
}

}  // namespace

void labelRules(NetnsPlan& observed, const NetnsPlan& desired) {
  for (auto* table : {&observed.nft, &observed.bridgeNft, &observed.nft6}) {
    if (!*table) continue;
    for (auto& c : (*table)->chains) {
      const NftChainSpec* want = findChain(desiredTable(&desired, **table), c.name);
      for (auto& r : c.rules) r.text = ruleText(r, want);
    }
  }
}

std::vector<std::string> describeDifferences(const ChangeSet& cs) {
  // A delete and a create of the same object is one "different" object.
  std::map<std::string, int> seen;
  for (const auto& c : cs.changes)
    seen[describe(c.object)] |= c.kind == ChangeKind::kDelete ? 1 : 2;
  std::vector<std::string> out;
  std::map<std::string, bool> printed;
  for (const auto& c : cs.changes) {
    std::string what = describe(c.object);
    if (printed[what]) continue;
    printed[what] = true;
    if (auto* s = std::get_if<SysctlSpec>(&c.object)) {
      out.push_back(c.kind == ChangeKind::kDelete
                        ? "changed " + what + " (original " + s->value + " not restored)"
                        : "different " + what + " (want " + s->value + ")");
    } else if (seen[what] == 3 || c.kind == ChangeKind::kUpdate) {
      out.push_back("different " + what);
    } else if (c.kind == ChangeKind::kDelete) {
      out.push_back("extra " + what);
    } else {
      out.push_back("missing " + what);
    }
  }
  return out;
}

std::string renderDumpTables(const NetnsPlan& o, const std::string& path,
                             const NetnsPlan* desired) {
  std::string out = "== " + std::string(netnsRoleName(o.role)) + " namespace (" + path + ")\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : o.tunnels) {
    rows.push_back({t.name, std::string(tunnelKindName(t.kind)), std::to_string(t.vni),
                    t.remote.str(), std::to_string(t.port), std::to_string(t.mtu),
                    t.up ? "up" : "down"});
  }
  out +=
      "tunnels\n" + table({"NAME", "KIND", "VNI", "REMOTE", "PORT", "MTU", "STATE"}, rows) + "\n";
  rows.clear();
  for (const auto& a : o.addresses) rows.push_back({a.dev, a.prefix.str()});
  out += "addresses\n" + table({"DEVICE", "ADDRESS"}, rows) + "\n";
  rows.clear();
  auto routes = o.routes;
  std::sort(routes.begin(), routes.end(),
            [](auto& a, auto& b) { return std::tie(a.table, a.dst) < std::tie(b.table, b.dst); });
  for (const auto& r : routes) {
    rows.push_back({std::to_string(r.table), r.type == RouteType::kLocal ? "local" : "unicast",
                    r.dst.len == 0 ? "default" : r.dst.str(), r.via ? r.via->str() : "-", r.dev,
                    scopeName(r.scope) + (r.onlink ? ",onlink" : "")});
  }
  out += "routes (protocol 112)\n" +
         table({"TABLE", "TYPE", "DESTINATION", "VIA", "DEVICE", "SCOPE"}, rows) + "\n";
  rows.clear();
  for (const auto& r : o.rules) {
    rows.push_back({std::to_string(r.priority), r.iif.empty() ? "-" : r.iif,
                    r.fwmask ? hexString(r.fwmark) + "/" + hexString(r.fwmask) : "-",
                    r.action == RuleAction::kGoto ? "goto " + std::to_string(r.gotoTarget)
                                                  : "lookup " + std::to_string(r.table)});
  }
  out += "rules (protocol 112)\n" + table({"PRIORITY", "IIF", "FWMARK", "ACTION"}, rows) + "\n";
  auto tables = tablesOf(o);
  for (const NftTableSpec* t : tables) out += renderNftSection(*t, desired);
  if (tables.empty()) out += "nft table: none\n\n";
  rows.clear();
  for (const auto& s : o.sysctls) rows.push_back({s.key, s.value});
  out += "sysctls\n" + table({"KEY", "VALUE"}, rows);
  return out;
}

nlohmann::json dumpJson(const NetnsPlan& o, const std::string& path, const NetnsPlan* desired) {
  using nlohmann::json;
  json j = {{"namespace", netnsRoleName(o.role)}, {"path", path}};
  j["tunnels"] = json::array();
  for (const auto& t : o.tunnels) {
    j["tunnels"].push_back({{"name", t.name},
                            {"kind", tunnelKindName(t.kind)},
                            {"vni", t.vni},
                            {"remote", t.remote.str()},
                            {"port", t.port},
                            {"mtu", t.mtu},
                            {"up", t.up}});
  }
  j["addresses"] = json::array();
  for (const auto& a : o.addresses)
    j["addresses"].push_back({{"dev", a.dev}, {"address", a.prefix.str()}});
  j["routes"] = json::array();
  for (const auto& r : o.routes)
    j["routes"].push_back({{"table", r.table}, {"route", renderRoute(r)}});
  j["rules"] = json::array();
  for (const auto& r : o.rules)
    j["rules"].push_back({{"priority", r.priority}, {"rule", renderRule(r)}});
  j["sysctls"] = json::object();
  for (const auto& s : o.sysctls) j["sysctls"][s.key] = s.value;
  j["nft"] = o.nft ? nftJson(*o.nft, desired) : json(nullptr);
  // Bridge mode only (ztunnel on a Linux bridge): the family-bridge table.
  j["nftBridge"] = o.bridgeNft ? nftJson(*o.bridgeNft, desired) : json(nullptr);
  // With IPv6 pods: the family-ip6 table.
  j["nft6"] = o.nft6 ? nftJson(*o.nft6, desired) : json(nullptr);
  return j;
}

}  // namespace ambient
