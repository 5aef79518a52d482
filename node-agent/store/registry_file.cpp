// The pod registry as an atomically replaced file. Touches files.
#include "node-agent/store/registry_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace ambient {

Result<PodRegistry> RegistryFile::load() {
  auto damaged = [&](const Error& e) {
    return fail(e.wrap("pod registry " + path_ +
                       " (kernel state is untouched; move the file and its .journal aside to "
                       "start empty and let pods be re-added)"));
  };
  auto contents = file_.read();
  if (!contents) return fail(contents.error());
  PodRegistry r;
  if (!contents->snapshot.empty()) {
    auto snap = decodeRegistry(contents->snapshot);
    if (!snap) return damaged(snap.error());
    r = std::move(*snap);
  }
  for (const auto& line : contents->changes) {
    if (auto s = applyChange(r, line); !s) return damaged(s.error());
  }
  mirror_ = r;
  return r;
}

Status RegistryFile::append(const std::string& line) {
  if (auto s = file_.append(line); !s) return s;
  if (auto s = applyChange(mirror_, line); !s) return s;
  if (file_.journalLines() > 2 * mirror_.pods.size() + 64) {
    return file_.compact(encodeRegistry(mirror_));
  }
  return {};
}

Status RegistryFile::putPod(const PodRecord& pod) {
  return append(encodePut(pod));
}
Status RegistryFile::removePod(const std::string& uid) {
  return append(encodeDelete(uid));
}
Status RegistryFile::setZtunnel(const ZtunnelRecord& z) {
  return append(encodeZtunnel(z));
}

}  // namespace ambient
