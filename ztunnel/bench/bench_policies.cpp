// `ztunnel_bench policies`: builds views holding N AuthorizationPolicies that do not concern the
// destination (other namespaces), plus five that select it, and times what an inbound
// connection pays for authorization on ztunnel's accept path (computeInboundAuthz: the
// destination lookup and the indexed evaluation), and the view's parse + index build. Contrast
// rows put the 10,000 policies in the destination's namespace. Pure apart from the clock.
#include "bench_policies.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "ztunnel/core/inbound_authz.h"
#include "ztunnel/core/workload_view.h"

namespace ztbench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

enum class Crowd {
  kOtherNamespaces,   // N policies spread over 1,000 other namespaces
  kSameNamespaceSel,  // N Kubernetes policies in the destination's namespace, other selectors
  kSameNamespaceKey,  // N upstream-form WorkloadSelector policies there, bound to other workloads
};

json k8sPolicy(const std::string& ns, const std::string& name, const std::string& app,
               const std::string& action, const std::string& principal) {
  return {
      {"apiVersion", "security.istio.io/v1"},
      {"kind", "AuthorizationPolicy"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      {"spec",
       {{"selector", {{"matchLabels", {{"app", app}}}}},
        {"action", action},
        {"rules",
         json::array({{{"from", json::array({{{"source", {{"principals", {principal}}}}}})}}})}}}};
}

std::string buildView(size_t n, Crowd crowd) {
  json workloads = json::array();
  auto workload = [](const std::string& name, const std::string& ip, const std::string& sa) {
    return json{{"uid", "c//v1/Pod/prod/" + name},
                {"name", name},
                {"namespace", "prod"},
                {"serviceAccount", sa},
                {"node", "node-b"},
                {"workloadIps", {ip}},
                {"protocol", "HBONE"},
                {"labels", {{"app", name}}}};
  };
  workloads.push_back(workload("client", "10.0.1.2", "client"));
  workloads.push_back(workload("httpbin", "10.0.2.2", "httpbin"));
  json aps = json::array();
  json local = json::array();
  // Five that select the destination: two DENYs that do not match, three ALLOWs, one matching.
  const std::string client = "cluster.local/ns/prod/sa/client";
  aps.push_back(k8sPolicy("prod", "deny-a", "httpbin", "DENY", "cluster.local/ns/x/sa/a"));
  aps.push_back(k8sPolicy("prod", "deny-b", "httpbin", "DENY", "cluster.local/ns/x/sa/b"));
  aps.push_back(k8sPolicy("prod", "allow-c", "httpbin", "ALLOW", "cluster.local/ns/x/sa/c"));
  aps.push_back(k8sPolicy("prod", "allow-d", "httpbin", "ALLOW", "cluster.local/ns/x/sa/d"));
  aps.push_back(k8sPolicy("prod", "allow-client", "httpbin", "ALLOW", client));
  for (size_t i = 0; i < n; ++i) {
    std::string name = "p" + std::to_string(i);
    std::string app = "app" + std::to_string(i % 50);
    switch (crowd) {
      case Crowd::kOtherNamespaces:
        aps.push_back(k8sPolicy("ns" + std::to_string(i % 1000), name, app,
                                i % 4 ? "ALLOW" : "DENY", client));
        break;
      case Crowd::kSameNamespaceSel:
        aps.push_back(k8sPolicy("prod", name, app, i % 4 ? "ALLOW" : "DENY", client));
        break;
      case Crowd::kSameNamespaceKey:
        local.push_back({{"name", name},
                         {"namespace", "prod"},
                         {"scope", "WorkloadSelector"},
                         {"action", i % 4 ? "Allow" : "Deny"},
                         {"rules", json::array({json::array({json::array(
                                       {{{"principals", {{{"Exact", client}}}}}})})})}});
        break;
    }
  }
  json view = {{"workloads", workloads},
               {"services", json::array()},
               {"policies", local},
               {"authorizationPolicies", aps}};
  return view.dump();
}

struct Row {
  double buildMs = 0;
  double nsPerConnection = 0;
  size_t examined = 0;
  long evaluations = 0;
};

constexpr std::chrono::seconds kRowBudget{2};

bool measure(size_t n, Crowd crowd, long iterations, Row& row) {
  std::string text = buildView(n, crowd);
  auto t0 = Clock::now();
  auto view = zt::parseWorkloadView(text, "cluster.local");
  row.buildMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!view) {
    std::fprintf(stderr, "view rejected: %s\n", view.error().message().c_str());
    return false;
  }
  auto src = *zt::IpAddr::parse("10.0.1.2");
  auto dst = *zt::IpAddr::parse("10.0.2.2");
  const std::string peer = "spiffe://cluster.local/ns/prod/sa/client";
  long allowed = 0;
  auto once = [&] {
    // As on the accept path: the destination lookup, then the verdict.
    const zt::Workload* w = view->findWorkloadByIp(dst);
    zt::InboundAuthzVerdict v = zt::computeInboundAuthz(*view, w, peer, src, dst, 8080, false);
    return v.allowed;
  };
  for (long i = 0; i < std::min(iterations / 10 + 1, 1000L); ++i)
    once();  // warm the caches and the allocator
  // At most `iterations` evaluations, and no more than kRowBudget of them (the contrast row is
  // thousands of times slower).
  auto t1 = Clock::now();
  long done = 0;
  while (done < iterations && (done % 256 != 0 || Clock::now() - t1 < kRowBudget)) {
    allowed += once() ? 1 : 0;
    ++done;
  }
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - t1).count();
  row.nsPerConnection = ns / static_cast<double>(done);
  row.evaluations = done;
  if (allowed != done) {
    std::fprintf(stderr, "the benchmark connection was denied (%ld of %ld allowed)\n", allowed,
                 done);
    return false;
  }
  zt::authz::ConnectionFacts f;
  f.sourcePrincipal = peer.substr(9);
  f.sourceIp = src;
  f.destinationIp = dst;
  f.destinationPort = 8080;
  const zt::Workload* w = view->findWorkloadByIp(dst);
  f.destinationNamespace = w->ns;
  f.destinationLabels = w->labels;
  f.boundPolicyKeys = w->authorizationPolicies;
  row.examined = view->policies.authorization.evaluate(f).examined;
  return true;
}

}  // namespace

const char* policiesHelp() {
  return R"(ztunnel_bench policies - authorization cost per inbound connection with 0, 100 and 10,000
policies in the view that do not concern the destination (1,000 other namespaces), plus five that
select it (two DENY, three ALLOW, one matching the client); contrast rows put the 10,000 in the
destination's namespace, with selectors (Kubernetes form: examined one by one) or bound to other
workloads by key (upstream form: never looked at). Times computeInboundAuthz (what the accept path
runs per connection) and the view's parse + index build. No root needed.

Usage: ztunnel_bench policies [--iterations N]
  --iterations N   evaluations per row (default 200000; a row stops after 2 s)
Exit codes: 0 figures printed, 1 a view was refused, 2 bad usage.)";
}

int runPoliciesBenchmark(const std::vector<std::string>& args) {
  long iterations = 200000;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--iterations" && i + 1 < args.size()) {
      char* end = nullptr;
      iterations = std::strtol(args[i + 1].c_str(), &end, 10);
      if (*end != '\0' || iterations <= 0) {
        std::fprintf(stderr, "--iterations: expected a positive number\n");
        return 2;
      }
      ++i;
      continue;
    }
    std::fprintf(stderr, "unknown argument '%s' (see --help)\n", args[i].c_str());
    return 2;
  }
  struct Case {
    const char* label;
    size_t n;
    Crowd crowd;
  };
  const Case cases[] = {
      {"0 + 5 selecting the destination", 0, Crowd::kOtherNamespaces},
      {"100 elsewhere + 5", 100, Crowd::kOtherNamespaces},
      {"10,000 elsewhere + 5", 10000, Crowd::kOtherNamespaces},
      {"10,000 same namespace, selectors + 5", 10000, Crowd::kSameNamespaceSel},
      {"10,000 same namespace, bound by key + 5", 10000, Crowd::kSameNamespaceKey},
  };
  std::printf("authorization per inbound connection (up to %ld evaluations or 2 s per row)\n",
              iterations);
  std::printf("%-40s %12s %14s %9s %8s\n", "policies in the view", "view build", "per connection",
              "examined", "runs");
  double base = 0;
  double elsewhere10k = 0;
  for (const Case& c : cases) {
    Row r;
    if (!measure(c.n, c.crowd, iterations, r)) return 1;
    std::printf("%-40s %9.1f ms %11.0f ns %9zu %8ld\n", c.label, r.buildMs, r.nsPerConnection,
                r.examined, r.evaluations);
    if (c.n == 0) base = r.nsPerConnection;
    if (c.n == 10000 && c.crowd == Crowd::kOtherNamespaces) elsewhere10k = r.nsPerConnection;
  }
  std::printf(
      "10,000 unrelated vs 0 policies: %.2fx per connection (index: namespace, bound key)\n",
      elsewhere10k / base);
  return 0;
}

}  // namespace ztbench
