// The sysctl ledger as an atomically rewritten JSON file. Touches the file system.
#include "common/sys/sysctl_ledger_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/sys/c_ptr.h"
#include "common/sys/journal_file.h"

namespace ambient {

Result<SysctlLedgerStore> SysctlLedgerStore::load(std::string path) {
  SysctlLedgerStore store(path);
  auto contents = store.file_.read();
  if (!contents) return fail(contents.error());
  auto damaged = [&](const std::string& what) {
    return fail(ErrorCode::kProtocol,
                "sysctl ledger " + path + " " + what +
                    "; it holds the original sysctl values to restore on uninstall: repair or "
                    "remove it by hand");
  };
  if (!contents->snapshot.empty()) {
    auto j = nlohmann::json::parse(contents->snapshot, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return damaged("is not valid JSON");
    for (auto& [role, entries] : j.items()) {
      if (!entries.is_object()) continue;
      for (auto& [key, value] : entries.items()) {
        if (value.is_string()) store.byRole_[role][key] = value.get<std::string>();
      }
    }
  }
  for (const auto& line : contents->changes) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("role") || !j.contains("key")) {
      return damaged("has a damaged journal line");
    }
    auto role = j.value("role", std::string());
    auto key = j.value("key", std::string());
    if (j.contains("value")) {
      store.byRole_[role].emplace(key, j.value("value", std::string()));
    } else {
      store.byRole_[role].erase(key);
    }
  }
  return store;
}

std::map<std::string, std::string> SysctlLedgerStore::entries(NetnsRole role) const {
  auto it = byRole_.find(std::string(netnsRoleName(role)));
  return it == byRole_.end() ? std::map<std::string, std::string>{} : it->second;
}

std::optional<std::string> SysctlLedgerStore::original(NetnsRole role,
                                                       const std::string& key) const {
  auto it = byRole_.find(std::string(netnsRoleName(role)));
  if (it == byRole_.end()) return std::nullopt;
  auto kv = it->second.find(key);
  if (kv == it->second.end()) return std::nullopt;
  return kv->second;
}

Status SysctlLedgerStore::record(NetnsRole role, const std::string& key,
                                 const std::string& original) {
  std::string r(netnsRoleName(role));
  auto& m = byRole_[r];
  if (m.count(key)) return {};
  nlohmann::json line = {{"role", r}, {"key", key}, {"value", original}};
  m[key] = original;  // first: a compaction inside append() snapshots the map
  if (auto s = append(line.dump()); !s) {
    m.erase(key);
    return s;
  }
  return {};
}

Status SysctlLedgerStore::forget(NetnsRole role, const std::string& key) {
  std::string r(netnsRoleName(role));
  auto& m = byRole_[r];
  if (!m.count(key)) return {};
  nlohmann::json line = {{"role", r}, {"key", key}};
  std::string old = m[key];
  m.erase(key);
  if (auto s = append(line.dump()); !s) {
    m[key] = old;
    return s;
  }
  return {};
}

Status SysctlLedgerStore::append(const std::string& line) {
  if (auto s = file_.append(line); !s) return s;
  size_t live = 0;
  for (const auto& [role, m] : byRole_) live += m.size();
  if (file_.journalLines() > 2 * live + 64) return file_.compact(snapshot());
  return {};
}

std::string SysctlLedgerStore::snapshot() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [role, entries] : byRole_) j[role] = entries;
  return j.dump(2) + "\n";
}

}  // namespace ambient
