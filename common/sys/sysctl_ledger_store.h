// The sysctl ledger persisted as a JSON snapshot plus an append-only journal (JournalFile):
// recording one original costs one short append. Mode 0600. Touches the file system.
#pragma once

#include <map>
#include <string>

#include "common/core/kernel_port.h"
#include "common/sys/atomic_file.h"
#include "common/sys/journal_file.h"

namespace ambient {

class SysctlLedgerStore : public SysctlLedger {
 public:
  // Loads the file if it exists. A corrupt file is an error naming it (never silently reset:
  // it holds the only copy of the values to restore).
  static Result<SysctlLedgerStore> load(std::string path);

  std::map<std::string, std::string> entries(NetnsRole role) const override;
  std::optional<std::string> original(NetnsRole role, const std::string& key) const override;
  Status record(NetnsRole role, const std::string& key, const std::string& original) override;
  Status forget(NetnsRole role, const std::string& key) override;

 private:
  explicit SysctlLedgerStore(std::string path) : path_(path), file_(std::move(path)) {}
  Status append(const std::string& line);
  std::string snapshot() const;

  std::string path_;
  JournalFile file_;
  std::map<std::string, std::map<std::string, std::string>> byRole_;
};

}  // namespace ambient
