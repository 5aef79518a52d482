// libFuzzer target: a Kubernetes watch stream as the agent's watcher receives it: bytes in
// chunks through the LineSplitter, each line through parseWatchEvent(), each object through the
// typed parsers (Namespace, Pod, Service, EndpointSlice, AuthorizationPolicy,
// PeerAuthentication) and ERROR objects through
// parseApiStatus(). Pure.
//
// Input: the first byte picks the chunk size the stream is cut into (1..64), the rest is the
// stream (newline-delimited JSON events).
#include "common/k8s/objects.h"
#include "common/k8s/watch_event.h"
#include "fuzz_util.h"

namespace {

using namespace ambient::k8s;

template <class T>
void parseAs(const WatchEvent& ev) {
  auto obj = ObjectTraits<T>::parse(ev.object);
  if (!obj) {
    fuzz::check(!obj.error().context.empty());
    return;
  }
  // The event's resourceVersion is the object's.
  fuzz::check(obj->meta.resourceVersion == ev.resourceVersion);
}

void handle(const std::string& line) {
  fuzz::check(!line.empty() && line.find('\n') == std::string::npos);
  auto ev = parseWatchEvent(line);
  if (!ev) return;
  fuzz::check(ev->object.is_object());
  fuzz::check(watchEventTypeName(ev->type) != "?");
  if (ev->type == WatchEventType::kError) {
    if (auto st = parseApiStatus(ev->object)) (void)describeHttpFailure(st->code, *st);
    return;
  }
  parseAs<Namespace>(*ev);
  parseAs<Pod>(*ev);
  parseAs<Service>(*ev);
  parseAs<EndpointSlice>(*ev);
  parseAs<AuthorizationPolicy>(*ev);
  parseAs<PeerAuthentication>(*ev);
  // A policy's spec is carried as served: whatever the object held, nothing else.
  if (auto policy = parseAuthorizationPolicy(ev->object)) {
    auto spec = ev->object.find("spec");
    fuzz::check(spec == ev->object.end() ? policy->spec.is_null() : policy->spec == *spec);
    fuzz::check(!policy->meta.namespace_.empty() && !policy->apiVersion.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 64 + 1;
  std::string_view stream = fuzz::asView(data + 1, size - 1);
  LineSplitter splitter(4096);
  for (size_t at = 0; at < stream.size(); at += chunk) {
    auto lines = splitter.feed(stream.substr(at, chunk));
    if (!lines) return 0;  // a line over the limit ends the watch
    for (const auto& line : *lines) handle(line);
  }
  fuzz::check(splitter.pending() <= 4096);
  return 0;
}
