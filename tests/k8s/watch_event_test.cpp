// Watch line decoding, Status objects, line splitting, backoff and API paths. Pure.
#include "common/k8s/watch_event.h"

#include <catch2/catch.hpp>

#include "common/k8s/api_paths.h"
#include "common/k8s/backoff.h"

using namespace ambient::k8s;
using namespace std::chrono_literals;

TEST_CASE("watch event lines of every type") {
  auto added = parseWatchEvent(
      R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"7"}}})");
  REQUIRE(added);
  CHECK(added->type == WatchEventType::kAdded);
  CHECK(added->resourceVersion == "7");
  CHECK(added->object["metadata"]["name"] == "a");

  auto bookmark = parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12746"}}})");
  REQUIRE(bookmark);
  CHECK(bookmark->type == WatchEventType::kBookmark);
  CHECK(bookmark->resourceVersion == "12746");

  auto error = parseWatchEvent(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j");
  REQUIRE(error);
  CHECK(error->type == WatchEventType::kError);
  auto status = parseApiStatus(error->object);
  REQUIRE(status);
  CHECK(status->code == 410);
  CHECK(status->isExpired());
  CHECK(status->message == "too old resource version: 1 (5)");

  CHECK(parseWatchEvent(R"({"type":"MODIFIED","object":{}})")->type == WatchEventType::kModified);
  CHECK(parseWatchEvent(R"({"type":"DELETED","object":{}})")->type == WatchEventType::kDeleted);
}

TEST_CASE("bad watch lines are errors not crashes") {
  for (const char* line : {"", "{", "[]", "42", R"({"object":{}})", R"({"type":"ADDED"})",
                           R"({"type":"ADDED","object":[]})", R"({"type":7,"object":{}})",
                           R"({"type":"RENAMED","object":{}})"}) {
    auto event = parseWatchEvent(line);
    CHECK_FALSE(event);
    if (!event) CHECK(event.error().code == ambient::ErrorCode::kProtocol);
  }
  CHECK_FALSE(parseApiStatus(nlohmann::json::parse(R"({"kind":"Pod"})")));
  CHECK_FALSE(parseApiStatus(nlohmann::json::array()));
  auto partial = parseApiStatus(nlohmann::json::parse(R"({"kind":"Status","code":"x"})"));
  REQUIRE(partial);
  CHECK(partial->code == 0);
  CHECK_FALSE(partial->isExpired());
}

TEST_CASE("line splitter joins chunks and strips CR") {
  LineSplitter splitter;
  auto first = splitter.feed("{\"a\":1}\n{\"b\"");
  REQUIRE(first);
  CHECK(*first == std::vector<std::string>{"{\"a\":1}"});
  CHECK(splitter.pending() == 4);
  auto second = splitter.feed(":2}\r\n\n{\"c\":3}\n");
  REQUIRE(second);
  CHECK(*second == std::vector<std::string>{"{\"b\":2}", "{\"c\":3}"});
  CHECK(splitter.pending() == 0);

  LineSplitter small(8);
  CHECK(small.feed("12345\n"));
  CHECK_FALSE(small.feed("123456789"));
}

TEST_CASE("backoff doubles up to the cap and jitter only shortens") {
  Backoff backoff(100ms, 1000ms, 0.2);
  CHECK(backoff.next(0.0) == 100ms);
  CHECK(backoff.next(0.0) == 200ms);
  CHECK(backoff.next(0.0) == 400ms);
  CHECK(backoff.next(0.0) == 800ms);
  CHECK(backoff.next(0.0) == 1000ms);
  CHECK(backoff.next(0.0) == 1000ms);
  CHECK(backoff.next(0.99) >= 800ms);
  CHECK(backoff.next(0.99) <= 1000ms);
  backoff.reset();
  CHECK(backoff.next(0.5) == 90ms);
}

TEST_CASE("API paths and queries") {
  CHECK(renderCollectionPath(kPods, "") == "/api/v1/pods");
  CHECK(renderCollectionPath(kPods, "ns") == "/api/v1/namespaces/ns/pods");
  CHECK(renderCollectionPath(kNamespaces, "ignored") == "/api/v1/namespaces");
  CHECK(renderObjectPath(kNamespaces, "", "default") == "/api/v1/namespaces/default");
  CHECK(renderObjectPath(kEndpointSlices, "ns", "s") ==
        "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices/s");
  ListOptions options{"", "app=web", "spec.nodeName=node-1"};
  CHECK(renderListTarget(kPods, options) ==
        "/api/v1/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dnode-1");
  CHECK(renderWatchTarget(kServices, {}, "42", 300) ==
        "/api/v1/services?watch=1&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=300");
  CHECK(describeWatch(kPods, options) ==
        "pods (labelSelector=app=web fieldSelector=spec.nodeName=node-1)");
  CHECK(urlEncode("a b/c") == "a%20b%2Fc");
}

TEST_CASE("HTTP failures are described for operators") {
  CHECK(describeHttpFailure(401, {401, "Unauthorized", "Unauthorized"}) ==
        "HTTP 401 Unauthorized (check the bearer token)");
  CHECK(describeHttpFailure(404, {404, "NotFound", "pods \"x\" not found"}) ==
        "HTTP 404 NotFound: pods \"x\" not found");
  CHECK(describeHttpFailure(403, {}) == "HTTP 403 (check the service account's RBAC)");
}
