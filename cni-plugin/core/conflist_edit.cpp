// The installer's planning: primary config choice, insertion, wrapping, uninstall. Pure.
#include "cni-plugin/core/conflist_edit.h"

#include <algorithm>

#include "cni-plugin/core/cni_request.h"

namespace ambient::cni {
namespace {

using json = nlohmann::ordered_json;

// A config file's JSON, or a discarded value when it is not valid JSON. nlohmann's parser stops
// at a NUL byte and would accept "{...}\0<anything>", which runtimes refuse (and whose bytes
// could not be recorded in the state file): such text is not valid here either.
json parseConfig(const std::string& text) {
  if (text.find('\0') != std::string::npos) return json(json::value_t::discarded);
  return json::parse(text, nullptr, false);
}

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

// `j[key]` when it is a string; a missing or differently typed field gives nullopt.
std::optional<std::string> stringField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool isMultus(const json& plugin) {
  auto type = plugin.value("type", json());
  return type == json("multus") || type == json("multus-shim");
}

// The Multus entry of a valid config file (the .conf itself, or a list's first plugin).
const json* multusEntry(const std::string& name, const json& conf) {
  if (!isList(name)) return isMultus(conf) ? &conf : nullptr;
  const json& first = conf["plugins"][0];
  return isMultus(first) ? &first : nullptr;
}

// A Multus entry's first delegate as a plugin list (a single-plugin delegate is wrapped as a
// runtime would wrap a .conf), or nullptr when it has none.
std::optional<json> firstDelegate(const json& multus) {
  auto d = multus.find("delegates");
  if (d == multus.end() || !d->is_array() || d->empty() || !(*d)[0].is_object()) {
    return std::nullopt;
  }
  const json& first = (*d)[0];
  if (first.contains("plugins")) {
    if (!whyInvalid("delegate.conflist", first).empty()) return std::nullopt;
    return first;
  }
  if (!nonEmptyString(first, "type")) return std::nullopt;
  json list = json::object();
  list["cniVersion"] =
      first.contains("cniVersion") ? first["cniVersion"] : multus.value("cniVersion", json());
  list["name"] = nonEmptyString(first, "name") ? first["name"] : multus.value("name", json());
  list["plugins"] = json::array({first});
  return list;
}

// Where Multus reads the default network from, when it is a file of this directory: the file
// clusterNetwork names (a path into `confDir`, or the path Multus's own container uses for it
// under /host; or a network name when Multus's confDir is this directory). kNotFound names
// what Multus reads instead (kInvalidInput: the primary config cannot take our entry).
Result<std::string> multusClusterNetworkFile(const std::string& multusName, const json& multus,
                                             const std::vector<ConfFile>& files,
                                             const std::string& confDir) {
  const std::string network = stringField(multus, "clusterNetwork").value_or("");
  auto cannot = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidInput,
                "Multus config " + multusName + ": its default network (clusterNetwork \"" +
                    network + "\") " + why +
                    "; put ambient-cni last in that network's config by hand");
  };
  if (network.empty()) return cannot("is not a non-empty string");
  const std::string dir = confDir.empty() || confDir.back() != '/' ? confDir + "/" : confDir;
  if (network.front() == '/') {
    for (const std::string& prefix : {dir, "/host" + dir}) {
      if (network.rfind(prefix, 0) != 0) continue;
      std::string base = network.substr(prefix.size());
      const ConfFile* f = find(files, base);
      if (!f) continue;
      json j = parseConfig(f->content);
      std::string why = j.is_discarded() ? "is not valid JSON" : whyInvalid(base, j);
      if (!why.empty()) return cannot("is " + base + ", which " + why);
      // As by name below: a Multus config is no default network (Multus would call itself), and
      // uninstall would read our entry as its delegates'.
      if (multusEntry(base, j)) return cannot("is " + base + ", which is a Multus config itself");
      return base;
    }
    return cannot("is not a config file in " + confDir);
  }
  const std::string multusDir = stringField(multus, "confDir").value_or("/etc/cni/multus/net.d");
  if (multusDir != confDir && multusDir + "/" != dir) {
    return cannot("is looked up in Multus's confDir " + multusDir +
                  " or as a "
                  "NetworkAttachmentDefinition, not in " +
                  confDir);
  }
  for (const auto& f : sortedConfigs(files)) {
    json j = parseConfig(f.content);
    if (!whyInvalid(f.name, j).empty() || multusEntry(f.name, j)) continue;
    std::string stem = f.name.substr(0, f.name.rfind('.'));
    if (stem == network || j.value("name", json()) == json(network)) return f.name;
  }
  return cannot("matches no config file in " + confDir);
}

// A valid config file as the plugin lists it holds: a .conf wrapped as a runtime wraps it; in a
// Multus config, the first delegate as a list (firstDelegate). Install's edits and the recorded
// originals are compared in this form.
json normalized(const std::string& name, const json& conf) {
  if (const json* multus = multusEntry(name, conf)) {
    auto delegate = firstDelegate(*multus);
    if (!delegate) return conf;
    json out = conf;
    (isList(name) ? out["plugins"][0] : out)["delegates"][0] = *delegate;
    return out;
  }
  return isList(name) ? conf : wrap(name, conf);
}

// In a normalized config, the plugin list our entry lives in: the first delegate of a Multus
// config (nullptr when it has none), else the config itself.
json* pluginList(const std::string& name, json& view) {
  if (!multusEntry(name, view)) return &view;
  json& multus = isList(name) ? view["plugins"][0] : view;
  auto d = multus.find("delegates");
  if (d == multus.end() || !d->is_array() || d->empty() || !(*d)[0].contains("plugins") ||
      !whyInvalid("delegate.conflist", (*d)[0]).empty())
    return nullptr;
  return &(*d)[0];
}

FileChange stateChange(const InstallState& s) {
  if (s.files.empty() && s.binaryPath.empty())
    return {FileChange::Kind::kRemove, kInstallStateFile, ""};
  return {FileChange::Kind::kWrite, kInstallStateFile, renderInstallState(s)};
}

// kInvalidInput unless `list` has a cniVersion ambient-cni supports.
Status checkVersion(const std::string& where, const json& list) {
  auto ver = list.find("cniVersion");
  if (ver == list.end() || !ver->is_string() || !isSupportedVersion(*ver))
    return fail(ErrorCode::kInvalidInput,
                where + ": cniVersion " + (ver == list.end() ? "(none)" : ver->dump()) +
                    " is not one ambient-cni supports (0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)");
  return {};
}

// `list` with our entry last (an existing entry of ours updated and moved, never duplicated).
json withOursLast(const json& list, const AmbientEntry& entry) {
  const json* existing = nullptr;
  for (const auto& p : list["plugins"])
    if (isOurs(p) && !existing) existing = &p;
  json desired = withoutOurs(list);
  desired["plugins"].push_back(mergedEntry(existing, entry));
  return desired;
}

// Records `original` as what `target` was before our first edit (once: a file that already
// has our entry keeps its record, or gets a warning when there is none), and the binary.
void recordInstall(EditPlan& plan, const std::optional<InstallState>& state,
                   const std::string& binaryPath, const std::string& target,
                   const ConfFile& original, bool alreadyOurs) {
  InstallState next = state.value_or(InstallState{});
  if (!binaryPath.empty()) next.binaryPath = binaryPath;
  if (!alreadyOurs) {
    next.files[target] = {original.name, original.content};
  } else if (!next.files.count(target)) {
    plan.warnings.push_back(target +
                            " has an ambient-cni entry this installer did not record; uninstall "
                            "will remove only the entry");
  }
  if (next != state.value_or(InstallState{})) plan.changes.push_back(stateChange(next));
}

// Puts our entry last in `primary` (a plain CNI config), wrapping a .conf into a .conflist.
Result<EditPlan> installInto(const ConfFile& primary, const std::vector<ConfFile>& files,
                             const std::optional<InstallState>& state, const AmbientEntry& entry,
                             const std::string& binaryPath, EditPlan plan) {
  plan.primary = primary.name;
  json parsed = parseConfig(primary.content);
  const bool wrapping = !isList(primary.name);
  const std::string target = wrapping ? wrappedName(primary.name) : primary.name;
  json list = wrapping ? wrap(primary.name, parsed) : parsed;
  if (auto v = checkVersion(primary.name, list); !v) return fail(v.error());
  // X.conflist may be our own earlier wrap of X.conf, which the primary CNI has rewritten.
  bool targetIsOurWrap = false;
  if (state) {
    auto it = state->files.find(target);
    targetIsOurWrap = it != state->files.end() && it->second.originalName == primary.name;
  }
  if (wrapping && find(files, target) && !targetIsOurWrap)
    return fail(ErrorCode::kInvalidInput, "cannot wrap " + primary.name + " into " + target + ": " +
                                              target + " exists (move one of them away)");
  json desired = withOursLast(list, entry);
  recordInstall(plan, state, binaryPath, target, primary, hasOurs(list));
  if (wrapping || desired != parsed)
    plan.changes.push_back({FileChange::Kind::kWrite, target, renderConfig(desired)});
  if (wrapping) plan.changes.push_back({FileChange::Kind::kRemove, primary.name, ""});
  return plan;
}

// Puts our entry last in the first delegate of the Multus config `multusFile` (as a list: a
// single-plugin delegate becomes a list of it and us), the file keeping its name.
Result<EditPlan> installIntoDelegate(const ConfFile& multusFile,
                                     const std::optional<InstallState>& state,
                                     const AmbientEntry& entry, const std::string& binaryPath,
                                     EditPlan plan) {
  plan.primary = multusFile.name;
  json parsed = parseConfig(multusFile.content);
  json* multus = isList(multusFile.name) ? &parsed["plugins"][0] : &parsed;
  json list = *firstDelegate(*multus);
  // A single-plugin delegate takes Multus's name when it has none; without either there is no
  // list a runtime would accept.
  if (std::string why = whyInvalid("delegate.conflist", list); !why.empty()) {
    return fail(ErrorCode::kInvalidInput,
                multusFile.name + ": its first delegate as a plugin list " + why +
                    "; give the delegate or the Multus config a \"name\"");
  }
  if (auto v = checkVersion(multusFile.name + " (its first delegate)", list); !v)
    return fail(v.error());
  json desired = parsed;
  json* desiredMultus = isList(multusFile.name) ? &desired["plugins"][0] : &desired;
  (*desiredMultus)["delegates"][0] = withOursLast(list, entry);
  recordInstall(plan, state, binaryPath, multusFile.name, multusFile, hasOurs(list));
  if (desired != parsed)
    plan.changes.push_back({FileChange::Kind::kWrite, multusFile.name, renderConfig(desired)});
  return plan;
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
  if (!j.is_object() || !j.contains("version") || j["version"] != 1)
    return bad("not a version 1 state object");
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
    auto why = whyInvalid(f.name, parseConfig(f.content));
    if (why.empty()) return f;
    warnings.push_back("skipping " + f.name + ": " + why);
  }
  return fail(ErrorCode::kNotFound, "no valid *.conflist or *.conf file");
}

Result<EditPlan> computeInstall(const std::vector<ConfFile>& files,
                                const std::optional<InstallState>& state, const AmbientEntry& entry,
                                const std::string& binaryPath, const std::string& confDir) {
  EditPlan plan;
  auto primary = choosePrimary(files, plan.warnings);
  if (!primary) return fail(primary.error());
  json parsed = parseConfig(primary->content);
  const json* multus = multusEntry(primary->name, parsed);
  if (!multus) return installInto(*primary, files, state, entry, binaryPath, std::move(plan));
  // Multus reads the default network's config itself: our entry goes there.
  if (multus->contains("clusterNetwork")) {
    auto file = multusClusterNetworkFile(primary->name, *multus, files, confDir);
    if (!file) return fail(file.error());
    if (!isList(*file) && stringField(*multus, "clusterNetwork").value_or("").front() == '/') {
      return fail(ErrorCode::kInvalidInput,
                  "Multus config " + primary->name + " names " + *file +
                      " by path: wrapping it into a .conflist would break that; make it a "
                      ".conflist and point clusterNetwork at it");
    }
    return installInto(*find(files, *file), files, state, entry, binaryPath, std::move(plan));
  }
  if (!firstDelegate(*multus)) {
    return fail(ErrorCode::kInvalidInput,
                "Multus config " + primary->name +
                    " has neither clusterNetwork nor a first delegate: cannot tell where its "
                    "default network is configured");
  }
  return installIntoDelegate(*primary, state, entry, binaryPath, std::move(plan));
}

Result<EditPlan> computeUninstall(const std::vector<ConfFile>& files,
                                  const std::optional<InstallState>& state) {
  EditPlan plan;
  for (const auto& f : sortedConfigs(files)) {
    json j = parseConfig(f.content);
    if (!whyInvalid(f.name, j).empty()) continue;
    json view = normalized(f.name, j);
    json* list = pluginList(f.name, view);
    if (!list || !hasOurs(*list)) continue;
    *list = withoutOurs(*list);
    const json& stripped = view;
    const InstallRecord* rec = nullptr;
    if (state) {
      auto it = state->files.find(f.name);
      if (it != state->files.end()) rec = &it->second;
    }
    if (rec) {
      json orig = parseConfig(rec->original);
      if (orig.is_object() && whyInvalid(rec->originalName, orig).empty())
        orig = normalized(rec->originalName, orig);
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
    if (list == &view && stripped["plugins"].empty()) {
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
