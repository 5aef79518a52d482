// Snapshot + journal files: torn appends, compaction, the registry and the ledger read back
// after a crash, damaged files named in the error. Touches files in a temporary directory.
#include <catch2/catch.hpp>
#include <fstream>

#include "common/sys/journal_file.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node-agent/store/registry_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/typed_values.h"

using namespace ambient;
using ambient::testing::TempDir;

namespace {

PodRecord pod(int i) {
  return PodRecord{
      "uid" + std::to_string(i),
      "foo",
      "p" + std::to_string(i),
      "c" + std::to_string(i),
      "/ns/" + std::to_string(i),
      "eth0",
      {testing::ipOf("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256))},
      testing::ifOf("veth" + std::to_string(i)),
      true};
}

}  // namespace

TEST_CASE("a torn last journal line is dropped and the next append starts clean", "[files]") {
  TempDir d("ambient-files");
  {
    JournalFile j(d.file("state"));
    REQUIRE(j.append("one"));
    REQUIRE(j.append("two"));
  }
  std::ofstream(d.file("state.journal"), std::ios::app) << "thr";  // crash mid-append
  JournalFile j(d.file("state"));
  auto c = j.read();
  REQUIRE(c);
  CHECK(c->changes == std::vector<std::string>{"one", "two"});
  REQUIRE(j.append("three"));
  auto again = JournalFile(d.file("state")).read();
  CHECK(again->changes == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("the registry survives restarts and compaction", "[files]") {
  TempDir d("ambient-files");
  std::string path = d.file("registry.json");
  {
    RegistryFile f(path);
    REQUIRE(f.load());
    REQUIRE(f.setZtunnel(ZtunnelRecord{"z", "/ns/z", "10.0.0.3", "vz", "10.0.0.1", "eth0", 1500}));
    for (int i = 0; i < 300; ++i) REQUIRE(f.putPod(pod(i)));  // forces compactions
    for (int i = 0; i < 300; i += 2) REQUIRE(f.removePod("uid" + std::to_string(i)));
  }
  RegistryFile f(path);
  auto r = f.load();
  REQUIRE(r);
  CHECK(r->pods.size() == 150);
  CHECK(r->pods.count("uid1") == 1);
  CHECK(r->pods.count("uid2") == 0);
  CHECK(r->pods.at("uid299") == pod(299));
  REQUIRE(r->ztunnel);
  CHECK(r->ztunnel->ip.str() == "10.0.0.3");
}

TEST_CASE("a damaged registry is an error that names the file", "[files]") {
  TempDir d("ambient-files");
  std::string path = d.file("registry.json");
  std::ofstream(path) << "{\"version\": 1, \"pods\": [ {\"uid\": ";
  RegistryFile f(path);
  auto r = f.load();
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find(path) != std::string::npos);
}

TEST_CASE("the sysctl ledger reads back records and forgets", "[files]") {
  TempDir d("ambient-files");
  std::string path = d.file("ledger.json");
  {
    auto l = SysctlLedgerStore::load(path);
    REQUIRE(l);
    for (int i = 0; i < 200; ++i) {
      REQUIRE(
          l->record(NetnsRole::kNode, "net/ipv4/conf/v" + std::to_string(i) + "/rp_filter", "1"));
    }
    REQUIRE(l->record(NetnsRole::kNode, "net/ipv4/conf/v0/rp_filter", "2"));  // first one wins
    for (int i = 0; i < 100; ++i) {
      REQUIRE(l->forget(NetnsRole::kNode, "net/ipv4/conf/v" + std::to_string(i) + "/rp_filter"));
    }
    REQUIRE(l->record(NetnsRole::kZtunnel, "net/ipv4/conf/all/rp_filter", "1"));
  }
  auto l = SysctlLedgerStore::load(path);
  REQUIRE(l);
  CHECK(l->entries(NetnsRole::kNode).size() == 100);
  CHECK(l->entries(NetnsRole::kNode).count("net/ipv4/conf/v150/rp_filter") == 1);
  CHECK(l->entries(NetnsRole::kZtunnel).at("net/ipv4/conf/all/rp_filter") == "1");
}
