// Identity certificates per SPIFFE identity: read from --cert-dir (per service account) or, in
// development mode, minted from a local CA (--dev-ca); plus the trust bundle. Touches files.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ztunnel/core/error.h"
#include "ztunnel/core/options.h"

namespace zt {

struct IdentityCert {
  std::string identity;
  X509* leaf = nullptr;
  STACK_OF(X509)* chain = nullptr;  // intermediates, may be empty
  EVP_PKEY* key = nullptr;
  time_t notAfter = 0;
  ~IdentityCert();
};

class CertStore {
 public:
  static Result<std::unique_ptr<CertStore>> create(const Options& opts);
  ~CertStore();

  // The certificate and key for `identity` (spiffe://td/ns/<ns>/sa/<sa>); cached, re-minted or
  // re-read when less than a quarter of its life is left.
  Result<std::shared_ptr<const IdentityCert>> get(const std::string& identity);
  // The trust bundle; callers take a reference (X509_STORE_up_ref).
  X509_STORE* trustStore() const { return trust_; }
  bool hasIdentities() const { return !certDir_.empty() || caKey_ != nullptr; }
  std::string describe() const;  // JSON for the admin port

 private:
  CertStore() = default;
  Result<std::shared_ptr<const IdentityCert>> load(const std::string& identity);
  Result<std::shared_ptr<const IdentityCert>> mint(const std::string& identity);

  std::string certDir_;
  std::string trustDomain_;
  X509_STORE* trust_ = nullptr;
  X509* caCert_ = nullptr;
  EVP_PKEY* caKey_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const IdentityCert>> cache_;
};

// OpenSSL's error queue as text (and cleared).
std::string takeOpenSslErrors();

}  // namespace zt
