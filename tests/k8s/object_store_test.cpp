// Informer store semantics: list replace, watch events, resourceVersion tracking. Pure.
#include "common/k8s/object_store.h"

#include <catch2/catch.hpp>

#include "common/k8s/objects.h"

using namespace ambient::k8s;

namespace {

Pod pod(const std::string& ns, const std::string& name, const std::string& rv,
        const std::string& node = "n1") {
  Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  p.meta.resourceVersion = rv;
  p.nodeName = node;
  return p;
}

}  // namespace

TEST_CASE("store applies watch events and tracks the resourceVersion") {
  ObjectStore<Pod> store;
  CHECK(store.replace({pod("a", "x", "5")}, "10").size() == 1);
  CHECK(store.resourceVersion() == "10");

  auto added = store.apply(WatchEventType::kAdded, pod("a", "y", "11"));
  REQUIRE(added);
  CHECK(added->type == ChangeType::kAdded);
  CHECK(store.resourceVersion() == "11");

  auto modified = store.apply(WatchEventType::kModified, pod("a", "x", "12", "n2"));
  REQUIRE(modified);
  CHECK(modified->type == ChangeType::kUpdated);
  CHECK(modified->before->nodeName == "n1");
  CHECK(modified->after->nodeName == "n2");
  CHECK(store.find("a/x")->nodeName == "n2");

  auto deleted = store.apply(WatchEventType::kDeleted, pod("a", "y", "13"));
  REQUIRE(deleted);
  CHECK(deleted->type == ChangeType::kDeleted);
  CHECK(deleted->object().meta.name == "y");
  CHECK(store.find("a/y") == nullptr);
  CHECK(store.size() == 1);
  CHECK(store.resourceVersion() == "13");

  // Deleting what we do not have changes nothing but still advances the resourceVersion.
  CHECK_FALSE(store.apply(WatchEventType::kDeleted, pod("a", "zz", "14")));
  CHECK(store.resourceVersion() == "14");
  // MODIFIED for an unknown key (missed ADDED) is an add; ADDED for a known one an update.
  CHECK(store.apply(WatchEventType::kModified, pod("b", "m", "15"))->type == ChangeType::kAdded);
  CHECK(store.apply(WatchEventType::kAdded, pod("b", "m", "16"))->type == ChangeType::kUpdated);
  store.setResourceVersion("20");
  CHECK(store.resourceVersion() == "20");
  store.setResourceVersion("");
  CHECK(store.resourceVersion() == "20");
}

TEST_CASE("relist converges and reports only the differences") {
  ObjectStore<Pod> store;
  store.replace({pod("a", "keep", "1"), pod("a", "change", "2"), pod("a", "gone", "3")}, "3");
  auto changes =
      store.replace({pod("a", "keep", "1"), pod("a", "change", "7"), pod("a", "new", "8")}, "9");
  REQUIRE(changes.size() == 3);
  std::map<std::string, ChangeType> byName;
  for (const auto& c : changes) byName[c.object().meta.name] = c.type;
  CHECK(byName.at("gone") == ChangeType::kDeleted);
  CHECK(byName.at("change") == ChangeType::kUpdated);
  CHECK(byName.at("new") == ChangeType::kAdded);
  CHECK(store.resourceVersion() == "9");
  CHECK(store.size() == 3);
  auto names = store.list();
  CHECK(names[0].meta.name == "change");
  CHECK(names[1].meta.name == "keep");
  CHECK(names[2].meta.name == "new");
  CHECK(store.replace({}, "10").size() == 3);
  CHECK(store.size() == 0);
}

TEST_CASE("cluster-scoped keys have no namespace part") {
  ObjectStore<Namespace> store;
  Namespace ns;
  ns.meta.name = "default";
  store.apply(WatchEventType::kAdded, ns);
  CHECK(store.find("default") != nullptr);
}
