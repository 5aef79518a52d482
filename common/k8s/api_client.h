// HTTP(S) client of the Kubernetes API (cpp-httplib + OpenSSL): GET, merge-PATCH and streaming
// watch, bearer token re-read on rotation, timeouts, and a stop() that aborts the request in
// flight from another thread. Touches the network.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/k8s/kubeconfig.h"
#include "common/k8s/token_source.h"
#include "common/k8s/watch_event.h"

namespace httplib {
class ClientImpl;
}

namespace ambient::k8s {

struct ClientOptions {
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds requestTimeout{15000};  // read/write timeout of GET and PATCH
  std::string userAgent = "ambient-agent";
};

// How a watch request ended without a transport error.
struct WatchOutcome {
  int httpStatus = 0;               // 200 when the stream was served
  std::optional<ApiStatus> status;  // the Status body of a non-200 answer
  bool cancelled = false;           // the line handler returned false or stop() was called
};

class ApiClient {
 public:
  // Errors name the server and what is wrong with the TLS material.
  static Result<std::unique_ptr<ApiClient>> create(const ClusterConfig& config,
                                                   const ClientOptions& options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // GET a path ("/api/v1/namespaces/ns/pods/p" or a list target with a query). A non-2xx answer
  // is an error carrying the API's Status message: 404 -> kNotFound, 401/403/429/5xx ->
  // kUnavailable, others kProtocol; transport failures and timeouts -> kUnavailable.
  Result<nlohmann::json> get(const std::string& target);
  // PATCH with Content-Type application/merge-patch+json; returns the patched object.
  Result<nlohmann::json> mergePatch(const std::string& path, const nlohmann::json& patch);
  // Streams a watch target, calling onLine for each line; returns when the server ends the
  // stream, onLine returns false or stop() is called. A stream broken by the network, or silent
  // for `idleTimeout`, is an error.
  Result<WatchOutcome> watch(const std::string& target, std::chrono::milliseconds idleTimeout,
                             const std::function<bool(std::string_view line)>& onLine);

  // Aborts the request in flight (any thread) and makes later requests fail until resume().
  void stop();
  void resume();
  const ClusterConfig& config() const { return config_; }

 private:
  ApiClient(ClusterConfig config, ClientOptions options);
  Result<std::string> authorization();
  // GET, or PATCH with a JSON merge patch when `mergePatchBody` is set: token, timeout, status
  // and JSON handling shared by both.
  Result<nlohmann::json> request(const char* method, const std::string& target,
                                 const nlohmann::json* mergePatchBody);
  Error httpError(const std::string& what, int httpStatus, const std::string& body);

  ClusterConfig config_;
  ClientOptions options_;
  TokenSource token_;
  std::string pathPrefix_;
  std::mutex requestMutex_;  // one request at a time on the connection
  std::unique_ptr<httplib::ClientImpl> http_;
  std::atomic<bool> stopped_{false};
};

}  // namespace ambient::k8s
