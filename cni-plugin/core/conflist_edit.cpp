// The installer's planning: primary config choice, insertion, wrapping, uninstall. Pure.
#include "cni-plugin/core/conflist_edit.h"

#include <algorithm>

#include "cni-plugin/core/cni_request.h"

namespace ambient::cni {
namespace {

using json = nlohmann::ordered_json;

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool isList(const std::string& name) {
  return endsWith(name, ".conflist");
}

bool isOurs(const json& plugin) {
  return plugin.is_object() && plugin.value("type", json()) == json(kPluginType);
}

bool nonEmptyString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() && !it->get<std::string>().empty();
}

// "" when `j` is a config a runtime would load from a file called `name`, else why not.
std::string whyInvalid(const std::string& name, const json& j) {
  if (!j.is_object()) return "not a JSON object";
  if (!isList(name)) {
    if (!nonEmptyString(j, "type")) return "has no \"type\"";
    if (isOurs(j)) return "is an ambient-cni config itself, not a primary CNI's";
    return "";
  }
  if (!nonEmptyString(j, "name")) return "has no \"name\"";
  auto plugins = j.find("plugins");
  if (plugins == j.end() || !plugins->is_array() || plugins->empty())
    return "has no \"plugins\" list";
  for (const auto& p : *plugins)
    if (!p.is_object() || !nonEmptyString(p, "type")) return "has a plugin without \"type\"";
  return "";
}

// What a runtime makes of a single .conf: a list of one plugin, named after the config.
json wrap(const std::string& name, const json& conf) {
  json list = json::object();
  if (conf.contains("cniVersion")) list["cniVersion"] = conf["cniVersion"];
  list["name"] =
      nonEmptyString(conf, "name") ? conf["name"] : json(name.substr(0, name.size() - 5));
  list["plugins"] = json::array({conf});
  return list;
}

std::string wrappedName(const std::string& confName) {
  return confName.substr(0, confName.size() - 5) + ".conflist";
}

json withoutOurs(const json& list) {
  json out = list;
  json plugins = json::array();
  for (const auto& p : list["plugins"])
    if (!isOurs(p)) plugins.push_back(p);
  out["plugins"] = plugins;
  return out;
}

bool hasOurs(const json& list) {
  return std::any_of(list["plugins"].begin(), list["plugins"].end(), isOurs);
}

json mergedEntry(const json* existing, const AmbientEntry& e) {
  json entry = existing ? *existing : json{{"type", kPluginType}};
  entry["agentSocket"] = e.agentSocket;
  for (auto [key, value] : {std::pair{"logFile", &e.logFile},
                            {"kubeconfig", &e.kubeconfig},
                            {"ztunnelNamespace", &e.ztunnelNamespace},
                            {"ztunnelLabel", &e.ztunnelLabel},
                            {"ztunnelServiceAccount", &e.ztunnelServiceAccount}}) {
    if (value->empty())
      entry.erase(key);
    else
      entry[key] = *value;
  }
  if (e.excludeNamespaces.empty())
    entry.erase("excludeNamespaces");
  else
    entry["excludeNamespaces"] = e.excludeNamespaces;
  return entry;
}

const ConfFile* find(const std::vector<ConfFile>& files, const std::string& name) {
  for (const auto& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<ConfFile> sortedConfigs(const std::vector<ConfFile>& files) {
  std::vector<ConfFile> out;
  for (const auto& f : files)
    if (isConfigName(f.name)) out.push_back(f);
  std::sort(out.begin(), out.end(),
            [](const ConfFile& a, const ConfFile& b) { return a.name < b.name; });
  return out;
}

FileChange stateChange(const InstallState& s) {
  if (s.files.empty() && s.binaryPath.empty())
    return {FileChange::Kind::kRemove, kInstallStateFile, ""};
  return {FileChange::Kind::kWrite, kInstallStateFile, renderInstallState(s)};
}

}  // namespace

bool isConfigName(const std::string& name) {
  return name.find('/') == std::string::npos &&
         (endsWith(name, ".conflist") || endsWith(name, ".conf"));
}

std::string renderConfig(const json& j) {
  return j.dump(2) + "\n";
}

Result<InstallState> parseInstallState(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& why) {
    return fail(ErrorCode::kInvalidInput,
                std::string("install state file ") + kInstallStateFile + ": " + why);
  };
  if (!j.is_object() || j.value("version", 0) != 1) return bad("not a version 1 state object");
  InstallState s;
  if (auto b = j.find("binaryPath"); b != j.end() && b->is_string()) s.binaryPath = *b;
  auto files = j.find("files");
  if (files == j.end()) return s;
  if (!files->is_object()) return bad("\"files\" is not an object");
  for (const auto& [name, rec] : files->items()) {
    if (!rec.is_object() || !nonEmptyString(rec, "originalName") || !rec.contains("original") ||
        !rec["original"].is_string())
      return bad("record for " + name + " lacks originalName/original");
    s.files[name] = {rec["originalName"], rec["original"]};
  }
  return s;
}

std::string renderInstallState(const InstallState& s) {
  json j = {{"version", 1}, {"binaryPath", s.binaryPath}, {"files", json::object()}};
  for (const auto& [name, rec] : s.files)
    j["files"][name] = {{"originalName", rec.originalName}, {"original", rec.original}};
  return j.dump(2) + "\n";
}

Result<ConfFile> choosePrimary(const std::vector<ConfFile>& files,
                               std::vector<std::string>& warnings) {
  for (const auto& f : sortedConfigs(files)) {
    auto why = whyInvalid(f.name, json::parse(f.content, nullptr, false));
    if (why.empty()) return f;
    warnings.push_back("skipping " + f.name + ": " + why);
  }
  return fail(ErrorCode::kNotFound, "no valid *.conflist or *.conf file");
}

Result<EditPlan> computeInstall(const std::vector<ConfFile>& files,
                                const std::optional<InstallState>& state, const AmbientEntry& entry,
                                const std::string& binaryPath) {
  EditPlan plan;
  auto primary = choosePrimary(files, plan.warnings);
  if (!primary) return fail(primary.error());
  plan.primary = primary->name;
  json parsed = json::parse(primary->content);
  const bool wrapping = !isList(primary->name);
  const std::string target = wrapping ? wrappedName(primary->name) : primary->name;
  json list = wrapping ? wrap(primary->name, parsed) : parsed;
  auto ver = list.find("cniVersion");
  if (ver == list.end() || !ver->is_string() || !isSupportedVersion(*ver))
    return fail(ErrorCode::kInvalidInput,
                primary->name + ": cniVersion " + (ver == list.end() ? "(none)" : ver->dump()) +
                    " is not one ambient-cni supports (0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)");
  // X.conflist may be our own earlier wrap of X.conf, which the primary CNI has rewritten.
  bool targetIsOurWrap = false;
  if (state) {
    auto it = state->files.find(target);
    targetIsOurWrap = it != state->files.end() && it->second.originalName == primary->name;
  }
  if (wrapping && find(files, target) && !targetIsOurWrap)
    return fail(ErrorCode::kInvalidInput, "cannot wrap " + primary->name + " into " + target +
                                              ": " + target + " exists (move one of them away)");

  const json* existing = nullptr;
  for (const auto& p : list["plugins"])
    if (isOurs(p) && !existing) existing = &p;
  json desired = withoutOurs(list);
  desired["plugins"].push_back(mergedEntry(existing, entry));

  InstallState next = state.value_or(InstallState{});
  if (!binaryPath.empty()) next.binaryPath = binaryPath;
  if (!hasOurs(list)) {
    next.files[target] = {primary->name, primary->content};
  } else if (!next.files.count(target)) {
    plan.warnings.push_back(target +
                            " has an ambient-cni entry this installer did not record; uninstall "
                            "will remove only the entry");
  }
  if (next != state.value_or(InstallState{})) plan.changes.push_back(stateChange(next));
  if (wrapping || desired != parsed)
    plan.changes.push_back({FileChange::Kind::kWrite, target, renderConfig(desired)});
  if (wrapping) plan.changes.push_back({FileChange::Kind::kRemove, primary->name, ""});
  return plan;
}

Result<EditPlan> computeUninstall(const std::vector<ConfFile>& files,
                                  const std::optional<InstallState>& state) {
  EditPlan plan;
  for (const auto& f : sortedConfigs(files)) {
    json j = json::parse(f.content, nullptr, false);
    if (!isList(f.name) || !whyInvalid(f.name, j).empty() || !hasOurs(j)) continue;
    json stripped = withoutOurs(j);
    const InstallRecord* rec = nullptr;
    if (state) {
      auto it = state->files.find(f.name);
      if (it != state->files.end()) rec = &it->second;
    }
    if (rec) {
      json orig = json::parse(rec->original, nullptr, false);
      if (!isList(rec->originalName) && orig.is_object()) orig = wrap(rec->originalName, orig);
      bool sameOtherName = rec->originalName != f.name && find(files, rec->originalName);
      if (orig == stripped && !sameOtherName) {
        plan.changes.push_back({FileChange::Kind::kWrite, rec->originalName, rec->original});
        if (rec->originalName != f.name)
          plan.changes.push_back({FileChange::Kind::kRemove, f.name, ""});
        continue;
      }
      plan.warnings.push_back(f.name +
                              " changed since install; removing only the ambient-cni entry");
    } else {
      plan.warnings.push_back(f.name + " has an unrecorded ambient-cni entry; removing the entry");
    }
    if (stripped["plugins"].empty()) {
      plan.warnings.push_back(f.name + " would have no plugins left; removing the file");
      plan.changes.push_back({FileChange::Kind::kRemove, f.name, ""});
    } else {
      plan.changes.push_back({FileChange::Kind::kWrite, f.name, renderConfig(stripped)});
    }
  }
  if (state) {
    plan.removeBinary = state->binaryPath;
    plan.changes.push_back({FileChange::Kind::kRemove, kInstallStateFile, ""});
  }
  return plan;
}

}  // namespace ambient::cni
