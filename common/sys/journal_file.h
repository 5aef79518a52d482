// A snapshot file plus an append-only journal of changes since it, so that persisting one
// change costs one short append (and fdatasync), not a rewrite of the whole state. Compaction
// writes a new snapshot atomically, then empties the journal; replaying changes is idempotent,
// so a crash between the two loses nothing. A torn last journal line (a crash mid-append) is
// dropped on read. Touches files.
#pragma once

#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/sys/unique_fd.h"

namespace ambient {

class JournalFile {
 public:
  struct Contents {
    std::string snapshot;              // "" when there is none yet
    std::vector<std::string> changes;  // journal lines, oldest first
  };

  // `path` names the snapshot; the journal is `path + ".journal"`.
  explicit JournalFile(std::string path) : path_(std::move(path)) {}
  Result<Contents> read();
  // Appends one change (a line without '\n') durably.
  Status append(const std::string& line);
  // Replaces the snapshot and empties the journal.
  Status compact(const std::string& snapshot);
  size_t journalLines() const { return lines_; }

 private:
  Status openJournal();
  std::string path_;
  UniqueFd journal_;
  size_t lines_ = 0;
};

}  // namespace ambient
