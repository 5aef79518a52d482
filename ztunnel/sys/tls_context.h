// OpenSSL contexts for HBONE: TLS 1.3 only, ALPN h2, mutual authentication against the trust
// bundle; per-connection identity certificates; peer URI SAN extraction. Touches OpenSSL.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "ztunnel/core/error.h"

namespace zt {

class CertStore;
struct IdentityCert;

class TlsContexts {
 public:
  static Result<std::unique_ptr<TlsContexts>> create(CertStore& certs);
  ~TlsContexts();
  SSL_CTX* server() const { return server_; }
  SSL_CTX* client() const { return client_; }

 private:
  TlsContexts() = default;
  SSL_CTX* server_ = nullptr;
  SSL_CTX* client_ = nullptr;
};

// A write BIO that appends every TLS record to `sink`: the caller sends the bytes in big
// writes (one syscall for many records) and decides itself when to stop producing.
BIO* newAppendBio(std::string* sink);

// Installs `cert` (leaf, chain, key) on one connection.
Status useIdentity(SSL* ssl, const IdentityCert& cert);
// URI subjectAltNames of the verified peer certificate.
std::vector<std::string> peerUriSans(SSL* ssl);
bool negotiatedH2(SSL* ssl);
// "certificate verify failed: certificate has expired" style text for logs and counters.
std::string describeTlsFailure(SSL* ssl);

}  // namespace zt
