// Snapshot + append-only journal. Touches files.
#include "common/sys/journal_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/sys/atomic_file.h"

namespace ambient {

Result<JournalFile::Contents> JournalFile::read() {
  Contents out;
  {
    std::ifstream in(path_);
    if (in) {
      std::stringstream s;
      s << in.rdbuf();
      out.snapshot = s.str();
    } else if (errno != ENOENT) {
      return fail(ErrorCode::kIo, "read " + path_, errno);
    }
  }
  std::ifstream in(path_ + ".journal");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (pos < all.size()) {
    auto nl = all.find('\n', pos);
    if (nl == std::string::npos) break;  // torn last line: the change never completed
    out.changes.push_back(all.substr(pos, nl - pos));
    pos = nl + 1;
  }
  lines_ = out.changes.size();
  return out;
}

Status JournalFile::openJournal() {
  if (journal_.valid()) return {};
  std::string jpath = path_ + ".journal";
  journal_.reset(::open(jpath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!journal_.valid()) return fail(ErrorCode::kIo, "open " + jpath, errno);
  // Cut a torn tail so the next append starts on a line of its own.
  off_t size = ::lseek(journal_.get(), 0, SEEK_END);
  if (size > 0) {
    std::ifstream in(jpath);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto last = all.rfind('\n');
    off_t keep = last == std::string::npos ? 0 : off_t(last + 1);
    if (keep != size && ::ftruncate(journal_.get(), keep) != 0) {
      return fail(ErrorCode::kIo, "truncate the torn tail of " + jpath, errno);
    }
  }
  return {};
}

Status JournalFile::append(const std::string& line) {
  if (auto s = openJournal(); !s) return s;
  std::string data = line + "\n";
  ssize_t n = ::write(journal_.get(), data.data(), data.size());
  if (n != ssize_t(data.size())) {
    int e = n < 0 ? errno : ENOSPC;
    // Leave no partial line behind: the next reader would drop it anyway, the next append
    // must not glue onto it.
    journal_.reset();
    (void)openJournal();
    return fail(ErrorCode::kIo, "append to " + path_ + ".journal (disk full?)", e);
  }
  if (::fdatasync(journal_.get()) != 0) {
    return fail(ErrorCode::kIo, "fdatasync " + path_ + ".journal", errno);
  }
  ++lines_;
  return {};
}

Status JournalFile::compact(const std::string& snapshot) {
  if (auto s = writeFileAtomic(path_, snapshot); !s) return s;
  if (auto s = openJournal(); !s) return s;
  if (::ftruncate(journal_.get(), 0) != 0) {
    return fail(ErrorCode::kIo, "truncate " + path_ + ".journal", errno);
  }
  ::fdatasync(journal_.get());
  lines_ = 0;
  return {};
}

}  // namespace ambient
