// Informer/Watcher against the test API server on loopback: list+watch, bookmarks, dropped
// connections, compaction (410), hanging requests, server-side timeouts, prompt stop.
#include <catch2/catch.hpp>
#include <mutex>

#include "common/k8s/informer.h"
#include "test_apiserver.h"

using namespace ambient::k8s;
using namespace ambient::k8s::testing;
using namespace std::chrono_literals;

namespace {

// Records the informer's changes and the library's log lines, thread-safely.
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> changes;  // "added ns/name", "updated ...", "deleted ..."
  std::vector<std::string> logs;

  Informer<Pod>::Callback callback() {
    return [this](const Change<Pod>& c) {
      static const char* kNames[] = {"added", "updated", "deleted"};
      std::lock_guard<std::mutex> lock(mutex);
      changes.push_back(std::string(kNames[static_cast<int>(c.type)]) + " " +
                        c.object().meta.key());
    };
  }
  LogSink sink() {
    return [this](LogLevel, const std::string& message, const LogFields&) {
      std::lock_guard<std::mutex> lock(mutex);
      logs.push_back(message);
    };
  }
  bool hasChange(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex);
    return std::find(changes.begin(), changes.end(), text) != changes.end();
  }
  bool logContains(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& line : logs) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

WatchOptions fastRetries() {
  WatchOptions options;
  options.backoffInitial = 50ms;
  options.backoffMax = 500ms;
  return options;
}

std::vector<std::string> keys(const std::vector<Pod>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p.meta.key());
  return out;
}

}  // namespace

TEST_CASE("informer lists then sees creates updates and deletes of its node's pods") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "a", "node-1"));
  server.apply("pods", makePod("shop", "b", "node-2"));
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {"", "", "spec.nodeName=node-1"}, rec.callback(),
                     rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  CHECK(pods.synced());
  CHECK(keys(pods.list()) == std::vector<std::string>{"shop/a"});
  CHECK(rec.hasChange("added shop/a"));

  server.apply("pods", makePod("shop", "c", "node-1"));
  REQUIRE(waitFor([&] { return rec.hasChange("added shop/c"); }));
  server.apply("pods", makePod("shop", "a", "node-1", {{"app", "web"}}));
  REQUIRE(waitFor([&] { return rec.hasChange("updated shop/a"); }));
  CHECK(pods.get("shop/a")->meta.labels.at("app") == "web");
  server.remove("pods", "shop", "a");
  REQUIRE(waitFor([&] { return rec.hasChange("deleted shop/a"); }));
  // Moving off the node leaves the field selector: the watch reports a delete.
  server.apply("pods", makePod("shop", "c", "node-2"));
  REQUIRE(waitFor([&] { return rec.hasChange("deleted shop/c"); }));
  CHECK(pods.list().empty());
  CHECK_FALSE(rec.hasChange("added shop/b"));
  CHECK(pods.resourceVersion() == server.state()["resourceVersion"]);
  CHECK(pods.stats().lists == 1);
}

TEST_CASE("a bookmark advances the resourceVersion so a later resume needs no relist") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "a", "node-1"));
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  REQUIRE(waitFor([&] { return server.state()["openWatches"] == 1; }));
  std::string before = pods.resourceVersion();
  // Other kinds move the global resourceVersion; pods see nothing until the bookmark.
  for (int i = 0; i < 3; ++i)
    server.apply("namespaces", {{"metadata", {{"name", "ns" + std::to_string(i)}}}});
  std::string now = server.state()["resourceVersion"];
  REQUIRE(now != before);
  server.bookmark();
  REQUIRE(waitFor([&] { return pods.resourceVersion() == now; }));
  REQUIRE(waitFor([&] { return pods.stats().bookmarks >= 1; }));
  // History up to now is gone; resuming from the bookmark's resourceVersion is still valid.
  server.compact();
  server.dropWatches();
  server.apply("pods", makePod("shop", "b", "node-1"));
  REQUIRE(waitFor([&] { return rec.hasChange("added shop/b"); }));
  CHECK(pods.stats().expired == 0);
  CHECK(pods.stats().lists == 1);
}

TEST_CASE("a dropped watch resumes from the last resourceVersion without losing events") {
  TestApiServer server;
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  server.apply("pods", makePod("shop", "first", "node-1"));
  REQUIRE(waitFor([&] { return rec.hasChange("added shop/first"); }));
  // Refuse reconnects for a moment so the changes surely happen while we are disconnected.
  server.fault("status", 2, 503);
  server.dropWatches();
  for (int i = 0; i < 5; ++i)
    server.apply("pods", makePod("shop", "p" + std::to_string(i), "node-1"));
  server.remove("pods", "shop", "first");
  REQUIRE(waitFor([&] { return pods.list().size() == 5; }));
  for (int i = 0; i < 5; ++i) CHECK(rec.hasChange("added shop/p" + std::to_string(i)));
  CHECK(rec.hasChange("deleted shop/first"));
  CHECK(pods.stats().lists == 1);  // resumed, not relisted
  CHECK(pods.stats().errors >= 1);
  CHECK(rec.logContains("503"));
}

TEST_CASE("a compacted resourceVersion gives 410 and the relist converges to the server") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "keep", "node-1"));
  server.apply("pods", makePod("shop", "change", "node-1"));
  server.apply("pods", makePod("shop", "gone", "node-1"));
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  server.fault("status", 1000, 503);  // hold the watcher off while history moves on
  server.dropWatches();
  server.remove("pods", "shop", "gone");
  server.apply("pods", makePod("shop", "change", "node-1", {{"v", "2"}}));
  server.apply("pods", makePod("shop", "new", "node-1"));
  server.compact();
  server.release();
  REQUIRE(waitFor([&] { return pods.stats().expired >= 1 && pods.stats().lists >= 2; }));
  REQUIRE(waitFor([&] { return pods.list().size() == 3; }));
  CHECK(keys(pods.list()) == std::vector<std::string>{"shop/change", "shop/keep", "shop/new"});
  CHECK(pods.get("shop/change")->meta.labels.at("v") == "2");
  CHECK(rec.hasChange("deleted shop/gone"));
  CHECK(rec.hasChange("added shop/new"));
  CHECK(rec.hasChange("updated shop/change"));
  CHECK(rec.logContains("expired (410 Expired"));
  // The relist's resourceVersion is the server's.
  auto serverList = server.list("/api/v1/pods");
  REQUIRE(
      waitFor([&] { return pods.resourceVersion() == serverList["metadata"]["resourceVersion"]; }));
}

TEST_CASE("a hanging list times out and is retried") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "a", "node-1"));
  server.fault("hang", 1);
  Recorder rec;
  ClientOptions client;
  client.requestTimeout = 500ms;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), client, fastRetries());
  auto started = std::chrono::steady_clock::now();
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  CHECK(std::chrono::steady_clock::now() - started >= 500ms);
  CHECK(pods.stats().errors >= 1);
  CHECK(rec.logContains("list failed"));
  CHECK(keys(pods.list()) == std::vector<std::string>{"shop/a"});
  server.release();
}

TEST_CASE("a reset connection is retried") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "a", "node-1"));
  server.fault("reset", 2);
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  CHECK(pods.stats().errors >= 2);
  CHECK(pods.list().size() == 1);
}

TEST_CASE("server-side watch timeouts end streams cleanly and the watch continues") {
  TestApiServer server;
  Recorder rec;
  WatchOptions options = fastRetries();
  options.watchTimeoutSeconds = 1;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, options);
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  REQUIRE(waitFor([&] { return pods.stats().watches >= 3; }));
  server.apply("pods", makePod("shop", "late", "node-1"));
  REQUIRE(waitFor([&] { return rec.hasChange("added shop/late"); }));
  CHECK(pods.stats().lists == 1);
}

TEST_CASE("stop returns promptly during an open watch and during a hanging request") {
  TestApiServer server;
  Recorder rec;
  {
    Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink());
    REQUIRE(pods.start());
    REQUIRE(pods.waitForSync(10s));
    REQUIRE(waitFor([&] { return server.state()["openWatches"] == 1; }));
    auto t0 = std::chrono::steady_clock::now();
    pods.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
  server.fault("hang", 1);
  ClientOptions slow;
  slow.requestTimeout = 60s;
  Informer<Pod> hanging(server.clusterConfig(), {}, rec.callback(), rec.sink(), slow);
  REQUIRE(hanging.start());
  REQUIRE(waitFor([&] { return server.state()["pendingFaults"] == 0; }));
  auto t0 = std::chrono::steady_clock::now();
  hanging.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK_FALSE(hanging.synced());
  server.release();
}

TEST_CASE("objects that fail to parse are logged by name and skipped") {
  TestApiServer server;
  server.apply("pods", makePod("shop", "good", "node-1"));
  auto bad = makePod("shop", "bad", "node-1");
  bad["spec"]["nodeName"] = 42;
  server.apply("pods", bad);
  Recorder rec;
  Informer<Pod> pods(server.clusterConfig(), {}, rec.callback(), rec.sink(), {}, fastRetries());
  REQUIRE(pods.start());
  REQUIRE(pods.waitForSync(10s));
  CHECK(keys(pods.list()) == std::vector<std::string>{"shop/good"});
  CHECK(rec.logContains("Pod shop/bad: spec.nodeName: expected string"));
}

TEST_CASE("typed informers for namespaces services and endpoint slices") {
  TestApiServer server;
  server.apply(
      "namespaces",
      {{"metadata", {{"name", "shop"}, {"labels", {{"istio.io/dataplane-mode", "ambient"}}}}}});
  server.apply(
      "services",
      {{"metadata", {{"name", "web"}, {"namespace", "shop"}}},
       {"spec",
        {{"clusterIPs", {"10.96.0.10"}}, {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}});
  server.apply("endpointslices",
               {{"metadata",
                 {{"name", "web-1"},
                  {"namespace", "shop"},
                  {"labels", {{"kubernetes.io/service-name", "web"}}}}},
                {"addressType", "IPv4"},
                {"endpoints", {{{"addresses", {"10.0.0.5"}}, {"conditions", {{"ready", true}}}}}}});
  Informer<Namespace> namespaces(server.clusterConfig(), {}, nullptr, nullptr);
  Informer<Service> services(server.clusterConfig(), {}, nullptr, nullptr);
  Informer<EndpointSlice> slices(server.clusterConfig(), {"shop", "", ""}, nullptr, nullptr);
  REQUIRE(namespaces.start());
  REQUIRE(services.start());
  REQUIRE(slices.start());
  REQUIRE(namespaces.waitForSync(10s));
  REQUIRE(services.waitForSync(10s));
  REQUIRE(slices.waitForSync(10s));
  CHECK(namespaces.get("shop")->meta.labels.at("istio.io/dataplane-mode") == "ambient");
  CHECK(services.get("shop/web")->ports.at(0).targetPort == 8080);
  CHECK(slices.get("shop/web-1")->serviceName == "web");
  server.remove("namespaces", "", "shop");
  REQUIRE(waitFor([&] { return !namespaces.get("shop"); }));
}
