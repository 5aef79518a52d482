// File operations of the installer. Touches files.
#include "cni-plugin/sys/conf_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys/atomic_file.h"
#include "common/sys/unique_fd.h"

namespace ambient::cni {
namespace {

constexpr size_t kMaxConfigBytes = 4 * 1024 * 1024;

Error ioError(const std::string& what, int err = errno) {
  return Error{ErrorCode::kIo, err, what};
}

Status syncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return fail(ioError("fsync directory " + dir));
  return {};
}

bool hasConfigSuffix(const std::string& name) {
  return isConfigName(name);
}

}  // namespace

Result<std::optional<std::string>> readFileIfExists(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return fail(ioError("open " + path));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ioError("read " + path));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxConfigBytes) return fail(ErrorCode::kIo, path + " is larger than 4 MiB");
  }
  return std::optional<std::string>{std::move(out)};
}

Result<std::vector<ConfFile>> readConfDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail(ioError("open CNI config directory " + dir));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (hasConfigSuffix(name)) names.push_back(name);
  }
  ::closedir(d);
  std::vector<ConfFile> files;
  for (const auto& name : names) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // raced or not a file
    auto content = readFileIfExists(path);
    if (!content) return fail(content.error());
    if (*content) files.push_back({name, **content});
  }
  return files;
}

Status removeFile(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(ioError("remove " + path));
  return syncDir(dir);
}

Status copyFileAtomic(const std::string& src, const std::string& dir, const std::string& name,
                      unsigned mode) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return fail(ioError("open plugin binary " + src));
  return replaceFileAtomic(dir + "/" + name, mode, [&](int fd, const std::string& tmp) -> Status {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(in.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(ioError("read " + src));
      if (n == 0) return {};
      if (auto st = writeAllTo(fd, buf, static_cast<size_t>(n), tmp); !st) return st;
    }
  });
}

Status applyEditPlan(const std::string& dir, const EditPlan& plan) {
  for (const auto& c : plan.changes) {
    auto st = c.kind == FileChange::Kind::kWrite
                  ? writeFileAtomic(dir + "/" + c.name, c.content, 0644)
                  : removeFile(dir, c.name);
    if (!st) return st;
  }
  return {};
}

}  // namespace ambient::cni
