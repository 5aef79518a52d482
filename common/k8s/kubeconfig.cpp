// kubeconfig parsing (yaml-cpp) and the in-cluster config. Pure.
#include "common/k8s/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cctype>

namespace ambient::k8s {
namespace {

// Finds the entry named `name` in a kubeconfig list (clusters/users/contexts) and returns its
// `field` map ("cluster", "user", "context").
Result<YAML::Node> findNamed(const YAML::Node& root, const char* list, const char* field,
                             const std::string& name, const std::string& source) {
  YAML::Node entries = root[list];
  if (entries && !entries.IsSequence()) {
    return fail(ErrorCode::kInvalidInput, source + ": '" + list + "' is not a list");
  }
  if (entries) {
    for (const auto& entry : entries) {
      if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar()) continue;
      if (entry["name"].as<std::string>() != name) continue;
      YAML::Node body = entry[field];
      if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
      if (!body.IsMap()) {
        return fail(ErrorCode::kInvalidInput,
                    source + ": " + list + " entry '" + name + "' has no '" + field + "' map");
      }
      return body;
    }
  }
  return fail(ErrorCode::kInvalidInput,
              source + ": no entry named '" + name + "' in '" + list + "'");
}

std::string scalar(const YAML::Node& map, const char* key) {
  YAML::Node value = map[key];
  if (!value || !value.IsScalar()) return "";
  return value.as<std::string>();
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path[0] == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

Result<std::string> decodeField(const YAML::Node& map, const char* key, const std::string& what) {
  std::string text = scalar(map, key);
  if (text.empty()) return std::string();
  auto decoded = decodeBase64(text);
  if (!decoded) return fail(decoded.error().wrap(what + " " + key));
  return decoded;
}

Result<ClusterConfig> parseRoot(const YAML::Node& root, const std::string& baseDir,
                                const std::string& contextOverride, const std::string& source) {
  if (!root.IsMap()) return fail(ErrorCode::kInvalidInput, source + ": not a YAML map");
  std::string contextName =
      contextOverride.empty() ? scalar(root, "current-context") : contextOverride;
  if (contextName.empty()) {
    return fail(ErrorCode::kInvalidInput,
                source + ": no current-context (set one or pass a context name)");
  }
  auto context = findNamed(root, "contexts", "context", contextName, source);
  if (!context) return fail(context.error());
  ClusterConfig config;
  config.source = source + " context " + contextName;
  config.namespace_ = scalar(*context, "namespace");
  std::string clusterName = scalar(*context, "cluster");
  auto cluster = findNamed(root, "clusters", "cluster", clusterName, source);
  if (!cluster) return fail(cluster.error());
  config.server = scalar(*cluster, "server");
  if (config.server.empty()) {
    return fail(ErrorCode::kInvalidInput, source + ": cluster '" + clusterName + "' has no server");
  }
  config.caFile = resolvePath(scalar(*cluster, "certificate-authority"), baseDir);
  std::string what = source + ": cluster '" + clusterName + "'";
  auto ca = decodeField(*cluster, "certificate-authority-data", what);
  if (!ca) return fail(ca.error());
  config.caData = *ca;
  if (YAML::Node insecure = (*cluster)["insecure-skip-tls-verify"]; insecure) {
    config.insecureSkipTlsVerify = insecure.as<bool>();
  }
  std::string userName = scalar(*context, "user");
  if (userName.empty()) return config;  // anonymous
  auto user = findNamed(root, "users", "user", userName, source);
  if (!user) return fail(user.error());
  for (const char* unsupported : {"exec", "auth-provider", "username"}) {
    if ((*user)[unsupported]) {
      return fail(ErrorCode::kUnsupported, source + ": user '" + userName + "' uses '" +
                                               unsupported +
                                               "', which is not supported (use a token, "
                                               "tokenFile or a client certificate)");
    }
  }
  what = source + ": user '" + userName + "'";
  config.token = scalar(*user, "token");
  config.tokenFile = resolvePath(scalar(*user, "tokenFile"), baseDir);
  config.clientCertFile = resolvePath(scalar(*user, "client-certificate"), baseDir);
  config.clientKeyFile = resolvePath(scalar(*user, "client-key"), baseDir);
  auto cert = decodeField(*user, "client-certificate-data", what);
  if (!cert) return fail(cert.error());
  auto key = decodeField(*user, "client-key-data", what);
  if (!key) return fail(key.error());
  config.clientCertData = *cert;
  config.clientKeyData = *key;
  bool hasCert = !config.clientCertFile.empty() || !config.clientCertData.empty();
  bool hasKey = !config.clientKeyFile.empty() || !config.clientKeyData.empty();
  if (hasCert != hasKey) {
    return fail(ErrorCode::kInvalidInput,
                what + ": a client certificate needs both a certificate and a key");
  }
  return config;
}

}  // namespace

Result<ClusterConfig> parseKubeconfig(std::string_view yamlText, const std::string& baseDir,
                                      const std::string& contextName,
                                      const std::string& sourceName) {
  try {
    YAML::Node root = YAML::Load(std::string(yamlText));
    return parseRoot(root, baseDir, contextName, sourceName);
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidInput, sourceName + ": " + e.what());
  }
}

Result<ClusterConfig> computeInClusterConfig(const InClusterInputs& inputs) {
  if (inputs.host.empty() || inputs.port.empty()) {
    return fail(ErrorCode::kNotFound,
                "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
                "set (not running in a pod?)");
  }
  ClusterConfig config;
  bool ipv6 = inputs.host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + inputs.host + "]" : inputs.host) + ":" + inputs.port;
  config.tokenFile = inputs.tokenPath;
  config.caFile = inputs.caPath;
  std::string ns = inputs.namespaceText;
  while (!ns.empty() && std::isspace(static_cast<unsigned char>(ns.back()))) ns.pop_back();
  config.namespace_ = ns;
  config.source = "in-cluster service account";
  return config;
}

Result<std::string> decodeBase64(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return fail(ErrorCode::kInvalidInput, "invalid base64 character");
    }
    if (padding) return fail(ErrorCode::kInvalidInput, "invalid base64: data after '='");
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (bits >= 6) return fail(ErrorCode::kInvalidInput, "invalid base64: truncated");
  return out;
}

}  // namespace ambient::k8s
