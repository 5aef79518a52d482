// libFuzzer target: the agent's persisted pod registry as RegistryFile::load() reads it from
// disk (snapshot, then journal replay through JournalFile, torn last line included). A loaded
// registry must survive encode -> decode, and replaying it as journal lines must rebuild it.
// Touches files (a private temporary directory).
//
// Input: the snapshot's bytes, then optionally "\n=journal=\n" and the journal's bytes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "node-agent/core/pod_registry.h"
#include "node-agent/store/registry_file.h"

namespace {

std::string scratchDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/registry-fuzz-XXXXXX";
  if (!::mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

void writeOrRemove(const std::string& path, std::string_view bytes, bool present) {
  if (!present) {
    ::unlink(path.c_str());
    return;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = scratchDir();
  static const std::string path = dir + "/registry.json";
  std::string_view snapshot = fuzz::asView(data, size);
  auto journal = fuzz::splitAt(snapshot, "\n=journal=\n");
  writeOrRemove(path, snapshot, !snapshot.empty());
  writeOrRemove(path + ".journal", journal.value_or(""), journal.has_value());

  ambient::RegistryFile file(path);
  auto r = file.load();
  if (!r) return 0;

  auto decoded = ambient::decodeRegistry(ambient::encodeRegistry(*r));
  fuzz::check(decoded.has_value() && *decoded == *r);

  ambient::PodRegistry replayed;
  for (const auto& [uid, pod] : r->pods)
    fuzz::check(ambient::applyChange(replayed, ambient::encodePut(pod)).has_value());
  if (r->ztunnel)
    fuzz::check(ambient::applyChange(replayed, ambient::encodeZtunnel(*r->ztunnel)).has_value());
  fuzz::check(replayed == *r);
  for (const auto& [uid, pod] : r->pods)
    fuzz::check(ambient::applyChange(replayed, ambient::encodeDelete(uid)).has_value());
  fuzz::check(replayed.pods.empty());
  return 0;
}
