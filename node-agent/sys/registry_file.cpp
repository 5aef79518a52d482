// The pod registry as an atomically replaced file. Touches files.
#include "node-agent/sys/registry_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/sys/sysctl_ledger_store.h"

namespace ambient {

Result<PodRegistry> RegistryFile::load() const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return PodRegistry{};
    return fail(ErrorCode::kIo, "read pod registry " + path_, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto r = decodeRegistry(text.str());
  if (!r) {
    return fail(r.error().wrap("pod registry " + path_ +
                               " (kernel state is untouched; move the file aside to start with "
                               "an empty registry and let pods be re-added)"));
  }
  return r;
}

Status RegistryFile::save(const PodRegistry& registry) {
  return writeFileAtomic(path_, encodeRegistry(registry));
}

}  // namespace ambient
