// HTTP(S) client of the Kubernetes API. Touches the network.
#include "common/k8s/api_client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace ambient::k8s {
namespace {

struct ServerUrl {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string pathPrefix;
};

Result<ServerUrl> parseServer(const std::string& server) {
  ServerUrl url;
  std::string rest;
  if (server.rfind("https://", 0) == 0) {
    url.tls = true;
    rest = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    rest = server.substr(7);
  } else {
    return fail(ErrorCode::kInvalidInput,
                "API server URL '" + server + "' must start with https:// or http://");
  }
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    url.pathPrefix = rest.substr(slash);
    while (!url.pathPrefix.empty() && url.pathPrefix.back() == '/') url.pathPrefix.pop_back();
    rest = rest.substr(0, slash);
  }
  std::string portText;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) {
      return fail(ErrorCode::kInvalidInput, "API server URL '" + server + "': unclosed '['");
    }
    url.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') portText = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) portText = rest.substr(colon + 1);
  }
  url.port = url.tls ? 443 : 80;
  if (!portText.empty()) {
    try {
      url.port = std::stoi(portText);
    } catch (const std::exception&) {
      url.port = 0;
    }
    if (url.port <= 0 || url.port > 65535) {
      return fail(ErrorCode::kInvalidInput, "API server URL '" + server + "': bad port");
    }
  }
  if (url.host.empty()) {
    return fail(ErrorCode::kInvalidInput, "API server URL '" + server + "' has no host");
  }
  return url;
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
}

// A certificate store holding every certificate of a PEM bundle; nullptr when none parses.
X509_STORE* storeFromPem(const std::string& pem) {
  BioPtr bio = memoryBio(pem);
  X509_STORE* store = X509_STORE_new();
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++count;
  }
  if (count == 0) {
    X509_STORE_free(store);
    return nullptr;
  }
  return store;
}

Result<std::unique_ptr<httplib::ClientImpl>> makeHttp(const ClusterConfig& config,
                                                      const ServerUrl& url) {
  if (!url.tls) return std::make_unique<httplib::ClientImpl>(url.host, url.port);
  std::unique_ptr<httplib::SSLClient> client;
  std::string what = "API server " + config.server + " (" + config.source + ")";
  if (!config.clientCertData.empty()) {
    BioPtr certBio = memoryBio(config.clientCertData);
    BioPtr keyBio = memoryBio(config.clientKeyData);
    X509Ptr cert(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr), X509_free);
    KeyPtr key(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (!cert || !key) {
      return fail(ErrorCode::kTls,
                  what + ": client-certificate-data or client-key-data is not PEM");
    }
    client = std::make_unique<httplib::SSLClient>(url.host, url.port, cert.get(), key.get());
  } else if (!config.clientCertFile.empty()) {
    client = std::make_unique<httplib::SSLClient>(url.host, url.port, config.clientCertFile,
                                                  config.clientKeyFile);
  } else {
    client = std::make_unique<httplib::SSLClient>(url.host, url.port);
  }
  if (!client->is_valid()) {
    return fail(ErrorCode::kTls, what +
                                     ": TLS client setup failed (check the client "
                                     "certificate and key files)");
  }
  if (!config.caData.empty()) {
    X509_STORE* store = storeFromPem(config.caData);
    if (!store) return fail(ErrorCode::kTls, what + ": certificate-authority-data is not PEM");
    client->set_ca_cert_store(store);  // owned by the SSL context from here on
  } else if (!config.caFile.empty()) {
    client->set_ca_cert_path(config.caFile);
  }
  client->enable_server_certificate_verification(!config.insecureSkipTlsVerify);
  return std::unique_ptr<httplib::ClientImpl>(std::move(client));
}

template <class Duration>
std::pair<time_t, time_t> secUsec(Duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000)};
}

}  // namespace

ApiClient::ApiClient(ClusterConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      token_(config_.token, config_.tokenFile) {}

ApiClient::~ApiClient() = default;

Result<std::unique_ptr<ApiClient>> ApiClient::create(const ClusterConfig& config,
                                                     const ClientOptions& options) {
  auto url = parseServer(config.server);
  if (!url) return fail(url.error());
  auto http = makeHttp(config, *url);
  if (!http) return fail(http.error());
  std::unique_ptr<ApiClient> client(new ApiClient(config, options));
  client->pathPrefix_ = url->pathPrefix;
  client->http_ = std::move(*http);
  auto [cs, cu] = secUsec(options.connectTimeout);
  client->http_->set_connection_timeout(cs, cu);
  auto [ws, wu] = secUsec(options.requestTimeout);
  client->http_->set_write_timeout(ws, wu);
  client->http_->set_keep_alive(true);
  return client;
}

void ApiClient::stop() {
  stopped_ = true;
  http_->stop();
}

void ApiClient::resume() {
  stopped_ = false;
}

Result<std::string> ApiClient::authorization() {
  auto token = token_.current();
  if (!token) return fail(token.error().wrap("API request to " + config_.server));
  return token->empty() ? std::string() : "Bearer " + *token;
}

Error ApiClient::httpError(const std::string& what, int httpStatus, const std::string& body) {
  if (httpStatus == 401) token_.invalidate();
  auto doc = nlohmann::json::parse(body, nullptr, false);
  ApiStatus status = parseApiStatus(doc).value_or(ApiStatus{httpStatus, "", body.substr(0, 200)});
  ErrorCode code = ErrorCode::kProtocol;
  if (httpStatus == 404) {
    code = ErrorCode::kNotFound;
  } else if (httpStatus == 401 || httpStatus == 403 || httpStatus == 429 || httpStatus >= 500) {
    code = ErrorCode::kUnavailable;
  } else if (httpStatus == 400 || httpStatus == 415 || httpStatus == 422) {
    code = ErrorCode::kInvalidInput;
  }
  return Error{code, 0, what + ": " + describeHttpFailure(httpStatus, status)};
}

namespace {

httplib::Headers makeHeaders(const std::string& authorization, const std::string& userAgent) {
  httplib::Headers headers{{"Accept", "application/json"}, {"User-Agent", userAgent}};
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  return headers;
}

Error transportError(const std::string& what, httplib::Error error) {
  return Error{ErrorCode::kUnavailable, 0, what + ": " + httplib::to_string(error)};
}

}  // namespace

Result<nlohmann::json> ApiClient::get(const std::string& target) {
  return request("GET", target, nullptr);
}

Result<nlohmann::json> ApiClient::mergePatch(const std::string& path, const nlohmann::json& patch) {
  return request("PATCH", path, &patch);
}

Result<nlohmann::json> ApiClient::request(const char* method, const std::string& target,
                                          const nlohmann::json* mergePatchBody) {
  std::string what = std::string(method) + " " + config_.server + pathPrefix_ + target;
  if (stopped_) return fail(ErrorCode::kUnavailable, what + ": client stopped");
  auto auth = authorization();
  if (!auth) return fail(auth.error());
  std::lock_guard<std::mutex> lock(requestMutex_);
  auto [rs, ru] = secUsec(options_.requestTimeout);
  http_->set_read_timeout(rs, ru);
  auto headers = makeHeaders(*auth, options_.userAgent);
  auto res = mergePatchBody ? http_->Patch(pathPrefix_ + target, headers, mergePatchBody->dump(),
                                           "application/merge-patch+json")
                            : http_->Get(pathPrefix_ + target, headers);
  if (!res) return fail(transportError(what, res.error()));
  if (res->status < 200 || res->status > 299) return fail(httpError(what, res->status, res->body));
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (doc.is_discarded()) return fail(ErrorCode::kProtocol, what + ": answer is not JSON");
  return doc;
}

Result<WatchOutcome> ApiClient::watch(const std::string& target,
                                      std::chrono::milliseconds idleTimeout,
                                      const std::function<bool(std::string_view)>& onLine) {
  std::string what = "watch " + config_.server + pathPrefix_ + target;
  if (stopped_) return WatchOutcome{0, std::nullopt, true};
  auto auth = authorization();
  if (!auth) return fail(auth.error());
  std::lock_guard<std::mutex> lock(requestMutex_);
  auto [rs, ru] = secUsec(idleTimeout);
  http_->set_read_timeout(rs, ru);
  WatchOutcome outcome;
  std::string errorBody;
  LineSplitter splitter;
  std::optional<Error> lineError;
  auto res = http_->Get(
      pathPrefix_ + target, makeHeaders(*auth, options_.userAgent),
      [&](const httplib::Response& response) {
        outcome.httpStatus = response.status;
        return true;
      },
      [&](const char* data, size_t length) {
        if (stopped_) return false;
        if (outcome.httpStatus != 200) {
          if (errorBody.size() < (1u << 20)) errorBody.append(data, length);
          return true;
        }
        auto lines = splitter.feed(std::string_view(data, length));
        if (!lines) {
          lineError = lines.error().wrap(what);
          return false;
        }
        for (const auto& line : *lines) {
          if (!onLine(line)) {
            outcome.cancelled = true;
            return false;
          }
        }
        return true;
      });
  if (lineError) return fail(*lineError);
  if (stopped_ || outcome.cancelled) {
    outcome.cancelled = true;
    return outcome;
  }
  if (!res) return fail(transportError(what, res.error()));
  if (outcome.httpStatus != 200) {
    if (outcome.httpStatus == 401) token_.invalidate();
    auto doc = nlohmann::json::parse(errorBody, nullptr, false);
    outcome.status = parseApiStatus(doc);
    if (!outcome.status)
      outcome.status = ApiStatus{outcome.httpStatus, "", errorBody.substr(0, 200)};
  }
  return outcome;
}

}  // namespace ambient::k8s
