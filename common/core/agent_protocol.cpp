// JSON encoding of the plugin <-> agent messages. Pure.
#include "common/core/agent_protocol.h"

#include <nlohmann/json.hpp>
#include <type_traits>
#include <utility>

namespace ambient {
namespace {

using nlohmann::json;

// The plugin puts runtime-given bytes (CNI_ARGS, CNI_CONTAINERID, CNI_NETNS) in requests and the
// agent echoes them in messages; bytes that are not UTF-8 become U+FFFD instead of throwing.
std::string dumpLine(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Error bad(std::string what) {
  return Error{ErrorCode::kProtocol, 0, "agent protocol: " + std::move(what)};
}

Result<json> parseObject(std::string_view text) {
  if (text.size() > kMaxMessageBytes) {
    return fail(bad("message of " + std::to_string(text.size()) + " bytes exceeds " +
                    std::to_string(kMaxMessageBytes)));
  }
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(bad("message is not a JSON object"));
  return j;
}

template <class T>
Status field(const json& j, const char* key, T& out, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return fail(bad(std::string("field \"") + key + "\" is missing"));
    return {};
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // get<int>() of a float out of range is undefined behaviour, of 2^40 a silent wrap.
    bool fits = it->is_number_unsigned()  ? std::in_range<T>(it->template get<uint64_t>())
                : it->is_number_integer() ? std::in_range<T>(it->template get<int64_t>())
                                          : false;
    if (!fits) return fail(bad(std::string("field \"") + key + "\" is not an integer in range"));
  }
  try {
    out = it->template get<T>();
  } catch (const json::exception&) {
    return fail(bad(std::string("field \"") + key + "\" has the wrong type"));
  }
  return {};
}

// The typed fields: decoded here, once, and refused naming the field.
Status field(const json& j, const char* key, IfName& out, bool required) {
  std::string text;
  if (auto st = field(j, key, text, required); !st) return st;
  auto name = IfName::parseOptional(text, std::string("field \"") + key + "\"");
  if (!name) return fail(bad(name.error().message()));
  out = *name;
  return {};
}

Status field(const json& j, const char* key, std::vector<IpAddress>& out, bool required) {
  std::vector<std::string> texts;
  if (auto st = field(j, key, texts, required); !st) return st;
  out.clear();
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ip = IpAddress::parse(texts[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (!ip) return fail(bad(ip.error().message()));
    out.push_back(*ip);
  }
  return {};
}

json toJson(const std::vector<IpAddress>& ips) {
  json list = json::array();
  for (const auto& ip : ips) list.push_back(ip.str());
  return list;
}

}  // namespace

std::string_view podCommandName(PodCommand c) {
  switch (c) {
    case PodCommand::kAdd:
      return "ADD";
    case PodCommand::kDel:
      return "DEL";
    case PodCommand::kCheck:
      return "CHECK";
    case PodCommand::kStatus:
      return "STATUS";
    case PodCommand::kGc:
      return "GC";
  }
  return "?";
}

std::string_view podVerdictName(PodVerdict v) {
  switch (v) {
    case PodVerdict::kEnrolled:
      return "enrolled";
    case PodVerdict::kNotAmbient:
      return "not-ambient";
    case PodVerdict::kReleased:
      return "released";
    case PodVerdict::kReady:
      return "ready";
    case PodVerdict::kError:
      return "error";
  }
  return "?";
}

std::string encodeRequest(const PodRequest& r) {
  json j = {{"version", r.version},         {"command", podCommandName(r.command)},
            {"containerId", r.containerId}, {"netns", r.netns},
            {"ifname", r.ifname.str()},     {"podNamespace", r.podNamespace},
            {"podName", r.podName},         {"podUid", r.podUid},
            {"ips", toJson(r.ips)}};
  if (r.command == PodCommand::kGc) {
    json list = json::array();
    for (const auto& a : r.validAttachments) {
      list.push_back({{"containerId", a.containerId}, {"ifname", a.ifname.str()}});
    }
    j["validAttachments"] = std::move(list);
  }
  return dumpLine(j);
}

Result<PodRequest> decodeRequest(std::string_view text) {
  auto j = parseObject(text);
  if (!j) return fail(j.error());
  PodRequest r;
  std::string command;
  for (auto st :
       {field(*j, "version", r.version, true), field(*j, "command", command, true),
        field(*j, "containerId", r.containerId, true), field(*j, "netns", r.netns, false),
        field(*j, "ifname", r.ifname, false), field(*j, "podNamespace", r.podNamespace, false),
        field(*j, "podName", r.podName, false), field(*j, "podUid", r.podUid, false),
        field(*j, "ips", r.ips, false)}) {
    if (!st) return fail(st.error());
  }
  if (r.version != kProtocolVersion) {
    return fail(bad("version " + std::to_string(r.version) + " is not " +
                    std::to_string(kProtocolVersion) + " (plugin and agent differ in version?)"));
  }
  if (command == "ADD")
    r.command = PodCommand::kAdd;
  else if (command == "DEL")
    r.command = PodCommand::kDel;
  else if (command == "CHECK")
    r.command = PodCommand::kCheck;
  else if (command == "STATUS")
    r.command = PodCommand::kStatus;
  else if (command == "GC")
    r.command = PodCommand::kGc;
  else
    return fail(bad("unknown command \"" + command + "\""));
  if (auto it = j->find("validAttachments"); it != j->end()) {
    if (r.command != PodCommand::kGc) return fail(bad("field \"validAttachments\" outside GC"));
    if (!it->is_array()) return fail(bad("field \"validAttachments\" is not an array"));
    for (const auto& entry : *it) {
      if (!entry.is_object()) return fail(bad("a validAttachments entry is not an object"));
      Attachment a;
      for (auto st : {field(entry, "containerId", a.containerId, true),
                      field(entry, "ifname", a.ifname, true)}) {
        if (!st) return fail(st.error().wrap("validAttachments"));
      }
      r.validAttachments.push_back(std::move(a));
    }
  }
  bool podCommand = r.command == PodCommand::kAdd || r.command == PodCommand::kDel ||
                    r.command == PodCommand::kCheck;
  if (podCommand && r.ifname.empty()) {
    return fail(bad("field \"ifname\" is missing (CNI_IFNAME is required for " + command + ")"));
  }
  return r;
}

std::string encodeReply(const PodReply& r) {
  json j = {{"verdict", podVerdictName(r.verdict)}, {"cniCode", r.cniCode}, {"message", r.message}};
  return dumpLine(j);
}

Result<PodReply> decodeReply(std::string_view text) {
  auto j = parseObject(text);
  if (!j) return fail(j.error());
  PodReply r;
  std::string verdict;
  for (auto st : {field(*j, "verdict", verdict, true), field(*j, "cniCode", r.cniCode, false),
                  field(*j, "message", r.message, false)}) {
    if (!st) return fail(st.error());
  }
  if (verdict == "enrolled")
    r.verdict = PodVerdict::kEnrolled;
  else if (verdict == "not-ambient")
    r.verdict = PodVerdict::kNotAmbient;
  else if (verdict == "released")
    r.verdict = PodVerdict::kReleased;
  else if (verdict == "ready")
    r.verdict = PodVerdict::kReady;
  else if (verdict == "error")
    r.verdict = PodVerdict::kError;
  else
    return fail(bad("unknown verdict \"" + verdict + "\""));
  return r;
}

}  // namespace ambient
