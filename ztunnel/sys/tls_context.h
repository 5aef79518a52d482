// OpenSSL contexts for HBONE: TLS 1.3 only, ALPN h2, mutual authentication against the trust
// bundle; per-connection identity certificates; peer URI SAN extraction. Touches OpenSSL.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/sys/openssl_ptr.h"
#include "ztunnel/core/byte_ring.h"
#include "ztunnel/core/error.h"

namespace zt {

using ambient::SslCtxPtr;
using ambient::SslPtr;

class CertStore;
struct IdentityCert;

class TlsContexts {
 public:
  static Result<std::unique_ptr<TlsContexts>> create(CertStore& certs);
  SSL_CTX* server() const { return server_.get(); }
  SSL_CTX* client() const { return client_.get(); }
  // One connection's TLS object with `cert` installed, in accept (server) or connect state.
  Result<SslPtr> newServerSsl(const IdentityCert& cert) const;
  Result<SslPtr> newClientSsl(const IdentityCert& cert) const;

 private:
  TlsContexts() = default;
  SslCtxPtr server_;
  SslCtxPtr client_;
};

// A write BIO that appends every TLS record to `sink`: the caller sends the bytes in big
// writes (one syscall for many records) and decides itself when to stop producing.
BIO* newAppendBio(ByteRing* sink);

// What one connection requires of its peer's leaf certificate, checked inside the handshake
// so that a refusal reaches the peer as a TLS alert (bad_certificate) instead of a silent close.
// Attach with attachPeerPolicy before the handshake; the result fields say why it failed.
struct PeerPolicy {
  std::string trustDomain;
  std::string expectedIdentity;  // empty: any identity of the trust domain
  std::string identityFailure;   // set when the certificate chained but its identity was refused
  bool alpnRefused = false;      // set when the client offered ALPN without h2
};
void attachPeerPolicy(SSL* ssl, PeerPolicy* policy);

// Installs `cert` (leaf, chain, key) on one connection.
Status useIdentity(SSL* ssl, const IdentityCert& cert);
// URI subjectAltNames of the verified peer certificate.
std::vector<std::string> peerUriSans(SSL* ssl);
// h2 selected, or no ALPN at all (upstream ztunnel, rustls + hyper, serves HTTP/2 to a client
// that offers no ALPN); false only when another protocol was selected.
bool alpnAllowsH2(SSL* ssl);
// "certificate verify failed: certificate has expired" style text for logs and counters.
std::string describeTlsFailure(SSL* ssl);

}  // namespace zt
