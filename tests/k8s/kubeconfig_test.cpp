// kubeconfig parsing and the in-cluster config. Pure.
#include "common/k8s/kubeconfig.h"

#include <catch2/catch.hpp>

using namespace ambient::k8s;

namespace {

// "hello" base64-encoded.
constexpr const char* kKubeconfig = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: aGVsbG8=
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    token: abc123
- name: bob
  user:
    tokenFile: /var/run/token
    client-certificate: certs/bob.crt
    client-key: /abs/bob.key
- name: carol
  user:
    client-certificate-data: aGVsbG8=
    client-key-data: d29ybGQ=
- name: dave
  user:
    exec:
      command: aws
contexts:
- name: dev
  context: {cluster: local, user: bob, namespace: team-a}
- name: prod
  context: {cluster: prod, user: alice}
- name: certs
  context: {cluster: prod, user: carol}
- name: exec
  context: {cluster: prod, user: dave}
- name: anon
  context: {cluster: local}
- name: broken
  context: {cluster: nowhere, user: alice}
)";

}  // namespace

TEST_CASE("kubeconfig current-context with file paths resolved against its folder") {
  auto config = parseKubeconfig(kKubeconfig, "/home/me/.kube");
  REQUIRE(config);
  CHECK(config->server == "https://127.0.0.1:6443");
  CHECK(config->caFile == "/home/me/.kube/pki/ca.crt");
  CHECK(config->insecureSkipTlsVerify);
  CHECK(config->tokenFile == "/var/run/token");
  CHECK(config->clientCertFile == "/home/me/.kube/certs/bob.crt");
  CHECK(config->clientKeyFile == "/abs/bob.key");
  CHECK(config->namespace_ == "team-a");
  CHECK(config->source == "kubeconfig context dev");
}

TEST_CASE("kubeconfig context override with token and CA data") {
  auto config = parseKubeconfig(kKubeconfig, "/x", "prod");
  REQUIRE(config);
  CHECK(config->server == "https://prod.example:6443");
  CHECK(config->caData == "hello");
  CHECK(config->token == "abc123");
  CHECK_FALSE(config->insecureSkipTlsVerify);
  CHECK(config->namespace_.empty());
}

TEST_CASE("kubeconfig client certificate data is decoded") {
  auto config = parseKubeconfig(kKubeconfig, "/x", "certs");
  REQUIRE(config);
  CHECK(config->clientCertData == "hello");
  CHECK(config->clientKeyData == "world");
}

TEST_CASE("kubeconfig context without a user is anonymous") {
  auto config = parseKubeconfig(kKubeconfig, "/x", "anon");
  REQUIRE(config);
  CHECK(config->token.empty());
  CHECK(config->tokenFile.empty());
}

TEST_CASE("kubeconfig errors name what is wrong") {
  auto exec = parseKubeconfig(kKubeconfig, "/x", "exec");
  REQUIRE_FALSE(exec);
  CHECK(exec.error().context.find("user 'dave' uses 'exec'") != std::string::npos);

  auto missingCluster = parseKubeconfig(kKubeconfig, "/x", "broken");
  REQUIRE_FALSE(missingCluster);
  CHECK(missingCluster.error().context.find("no entry named 'nowhere' in 'clusters'") !=
        std::string::npos);

  auto missingContext = parseKubeconfig(kKubeconfig, "/x", "nope");
  REQUIRE_FALSE(missingContext);
  CHECK(missingContext.error().context.find("'nope'") != std::string::npos);

  auto noCurrent = parseKubeconfig("clusters: []\n", "/x", "", "/etc/kc");
  REQUIRE_FALSE(noCurrent);
  CHECK(noCurrent.error().context.find("/etc/kc: no current-context") != std::string::npos);

  auto badYaml = parseKubeconfig("clusters: [\n  - {", "/x");
  REQUIRE_FALSE(badYaml);
  CHECK(badYaml.error().code == ambient::ErrorCode::kInvalidInput);

  auto notMap = parseKubeconfig("- a\n- b\n", "/x");
  REQUIRE_FALSE(notMap);

  auto listNotList = parseKubeconfig("current-context: a\ncontexts: {a: 1}\n", "/x");
  REQUIRE_FALSE(listNotList);
  CHECK(listNotList.error().context.find("'contexts' is not a list") != std::string::npos);
}

TEST_CASE("kubeconfig rejects bad base64 and half a client certificate") {
  const char* badData = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://a:1", certificate-authority-data: "!!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  auto bad = parseKubeconfig(badData, "/x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().context.find("certificate-authority-data") != std::string::npos);

  const char* halfCert = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://a:1"}}]
users: [{name: u, user: {client-certificate: a.crt}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  auto half = parseKubeconfig(halfCert, "/x");
  REQUIRE_FALSE(half);
  CHECK(half.error().context.find("needs both") != std::string::npos);
}

TEST_CASE("kubeconfig written as JSON parses too") {
  const char* json = R"({"current-context":"c","clusters":[{"name":"k","cluster":{"server":
    "http://127.0.0.1:8080"}}],"contexts":[{"name":"c","context":{"cluster":"k"}}]})";
  auto config = parseKubeconfig(json, "/x");
  REQUIRE(config);
  CHECK(config->server == "http://127.0.0.1:8080");
}

TEST_CASE("in-cluster config from the service account environment") {
  auto config =
      computeInClusterConfig({"10.96.0.1", "443", "/sa/token", "/sa/ca.crt", "kube-system\n"});
  REQUIRE(config);
  CHECK(config->server == "https://10.96.0.1:443");
  CHECK(config->tokenFile == "/sa/token");
  CHECK(config->caFile == "/sa/ca.crt");
  CHECK(config->namespace_ == "kube-system");

  auto v6 = computeInClusterConfig({"fd00::1", "6443", "/t", "/c", ""});
  REQUIRE(v6);
  CHECK(v6->server == "https://[fd00::1]:6443");

  auto missing = computeInClusterConfig({"", "443", "/t", "/c", ""});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().isNotFound());
}

TEST_CASE("base64 decoding") {
  CHECK(decodeBase64("aGVsbG8gd29ybGQ=").value() == "hello world");
  CHECK(decodeBase64("aGVs\nbG8").value() == "hello");
  CHECK(decodeBase64("").value().empty());
  CHECK_FALSE(decodeBase64("a"));
  CHECK_FALSE(decodeBase64("aGVsbG8=x"));
  CHECK_FALSE(decodeBase64("a*bc"));
}
