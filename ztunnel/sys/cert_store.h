// Identity certificates per SPIFFE identity: read from --cert-dir (per service account) or, in
// development mode, minted from a local CA (--dev-ca); plus the trust bundle. Touches files.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/sys/openssl_ptr.h"
#include "ztunnel/core/error.h"
#include "ztunnel/core/options.h"

namespace zt {

struct IdentityCert {
  std::string identity;
  ambient::X509Ptr leaf;
  ambient::X509StackPtr chain;  // intermediates, may be empty
  ambient::EvpPkeyPtr key;
  time_t notAfter = 0;
};

class CertStore {
 public:
  static Result<std::unique_ptr<CertStore>> create(const Options& opts);

  // The certificate and key for `identity` (spiffe://td/ns/<ns>/sa/<sa>); cached, re-minted or
  // re-read when less than a quarter of its life is left.
  Result<std::shared_ptr<const IdentityCert>> get(const std::string& identity);
  // The trust bundle; callers take a reference (X509_STORE_up_ref).
  X509_STORE* trustStore() const { return trust_.get(); }
  bool hasIdentities() const { return !certDir_.empty() || caKey_ != nullptr; }
  std::string describe() const;  // JSON for the admin port

 private:
  CertStore() = default;
  Result<std::shared_ptr<const IdentityCert>> load(const std::string& identity);
  Result<std::shared_ptr<const IdentityCert>> mint(const std::string& identity);

  std::string certDir_;
  std::string trustDomain_;
  ambient::X509StorePtr trust_;
  ambient::X509Ptr caCert_;
  ambient::EvpPkeyPtr caKey_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const IdentityCert>> cache_;
};

// OpenSSL's error queue as text (and cleared).
std::string takeOpenSslErrors();

}  // namespace zt
