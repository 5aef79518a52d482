// The sysctl ledger as an atomically rewritten JSON file. Touches the file system.
#include "common/sys/sysctl_ledger_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/sys/c_ptr.h"

namespace ambient {

Status writeFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return fail(ErrorCode::kIo, "create " + tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return fail(ErrorCode::kIo, "write " + tmp + " (disk full?)", e);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail(ErrorCode::kIo, "fsync " + tmp, e);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail(ErrorCode::kIo, "rename " + tmp + " to " + path, e);
  }
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) ::fsync(dfd.get());
  return {};
}

Result<SysctlLedgerStore> SysctlLedgerStore::load(std::string path) {
  SysctlLedgerStore store(path);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return store;
    return fail(ErrorCode::kIo, "read sysctl ledger " + path, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol,
                "sysctl ledger " + path +
                    " is not valid JSON; it holds the original sysctl values to restore on "
                    "uninstall: repair or remove it by hand");
  }
  for (auto& [role, entries] : j.items()) {
    if (!entries.is_object()) continue;
    for (auto& [key, value] : entries.items()) {
      if (value.is_string()) store.byRole_[role][key] = value.get<std::string>();
    }
  }
  return store;
}

std::map<std::string, std::string> SysctlLedgerStore::entries(NetnsRole role) const {
  auto it = byRole_.find(std::string(netnsRoleName(role)));
  return it == byRole_.end() ? std::map<std::string, std::string>{} : it->second;
}

Status SysctlLedgerStore::record(NetnsRole role, const std::string& key,
                                 const std::string& original) {
  auto& m = byRole_[std::string(netnsRoleName(role))];
  if (m.count(key)) return {};
  m[key] = original;
  if (auto s = save(); !s) {
    m.erase(key);
    return s;
  }
  return {};
}

Status SysctlLedgerStore::forget(NetnsRole role, const std::string& key) {
  auto& m = byRole_[std::string(netnsRoleName(role))];
  if (!m.erase(key)) return {};
  return save();
}

Status SysctlLedgerStore::save() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [role, entries] : byRole_) j[role] = entries;
  return writeFileAtomic(path_, j.dump(2) + "\n");
}

}  // namespace ambient
