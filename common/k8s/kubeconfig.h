// Where and how to reach the API server: parsed from a kubeconfig (YAML) or computed from the
// in-cluster service-account environment. Pure (the caller reads the files).
#pragma once

#include <string>
#include <string_view>

#include "common/core/error.h"

namespace ambient::k8s {

struct ClusterConfig {
  std::string server;  // "https://10.96.0.1:443", "http://127.0.0.1:8080"
  std::string caFile;  // PEM file, or
  std::string caData;  // PEM text (certificate-authority-data, decoded)
  bool insecureSkipTlsVerify = false;
  std::string token;      // static bearer token
  std::string tokenFile;  // bearer token file, re-read when it changes; wins over `token`
  std::string clientCertFile;
  std::string clientKeyFile;
  std::string clientCertData;  // PEM text
  std::string clientKeyData;   // PEM text
  std::string namespace_;      // the context's namespace, or the pod's namespace in-cluster
  std::string source;          // "kubeconfig /root/.kube/config context kind-a" (for logs)
};

// Parses a kubeconfig (clusters, users, contexts, current-context). `contextName` overrides
// current-context. Relative file paths resolve against `baseDir` (the kubeconfig's folder).
// Unsupported user kinds (exec, auth-provider) are errors that name the user.
Result<ClusterConfig> parseKubeconfig(std::string_view yamlText, const std::string& baseDir,
                                      const std::string& contextName = "",
                                      const std::string& sourceName = "kubeconfig");

struct InClusterInputs {
  std::string host;           // $KUBERNETES_SERVICE_HOST
  std::string port;           // $KUBERNETES_SERVICE_PORT
  std::string tokenPath;      // .../serviceaccount/token
  std::string caPath;         // .../serviceaccount/ca.crt
  std::string namespaceText;  // content of .../serviceaccount/namespace (may be empty)
};

// The in-cluster config (https, IPv6 hosts bracketed); an error when host or port is unset.
Result<ClusterConfig> computeInClusterConfig(const InClusterInputs& inputs);

// Standard base64 (RFC 4648, padding optional, whitespace ignored).
Result<std::string> decodeBase64(std::string_view text);

}  // namespace ambient::k8s
