// TLS contexts and helpers for HBONE. Touches OpenSSL.
#include "ztunnel/sys/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "ztunnel/core/spiffe_identity.h"
#include "ztunnel/sys/cert_store.h"

namespace zt {
namespace {

const unsigned char kAlpnH2[] = {2, 'h', '2'};

int policyIndex() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

PeerPolicy* policyOf(SSL* ssl) {
  return static_cast<PeerPolicy*>(SSL_get_ex_data(ssl, policyIndex()));
}

std::vector<std::string> uriSans(X509* cert) {
  std::vector<std::string> out;
  if (!cert) return out;
  ambient::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = n->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     ASN1_STRING_length(uri));
  }
  return out;
}

// Chain checks first (OpenSSL), then the leaf's SPIFFE identity against the connection's
// policy. X509_V_ERR_CERT_REJECTED makes OpenSSL send a bad_certificate alert.
int verifyPeer(int preverifyOk, X509_STORE_CTX* store) {
  if (!preverifyOk) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  PeerPolicy* policy = ssl ? policyOf(ssl) : nullptr;
  if (!policy) return 1;
  auto id = checkPeerIdentity(uriSans(X509_STORE_CTX_get_current_cert(store)), policy->trustDomain,
                              policy->expectedIdentity);
  if (id) return 1;
  policy->identityFailure = id.error().message();
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnH2, sizeof(kAlpnH2), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    if (PeerPolicy* policy = policyOf(ssl)) policy->alpnRefused = true;
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol: HBONE speaks only h2
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

Result<SslCtxPtr> makeContext(const SSL_METHOD* method, X509_STORE* trust, bool server) {
  SslCtxPtr owner(SSL_CTX_new(method));
  if (!owner) return fail(ErrorCode::kTls, "SSL_CTX_new: " + takeOpenSslErrors());
  SSL_CTX* ctx = owner.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // No SSL_MODE_RELEASE_BUFFERS: re-allocating the record buffers per call cost ~20% of HBONE
  // throughput in ztunnel_bench; pooled connections are few, so keeping them is cheap.
  // Pull many records per read(2); writes go through newAppendBio.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  // AES-128-GCM first (AES-NI + PCLMUL; ~10% fewer cycles per byte than AES-256-GCM, which is
  // OpenSSL's default first choice); the server's order decides, ChaCha20 stays for peers without
  // AES.
  if (SSL_CTX_set_ciphersuites(
          ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
    return fail(ErrorCode::kTls, "SSL_CTX_set_ciphersuites: " + takeOpenSslErrors());
  if (server) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  X509_STORE_up_ref(trust);
  SSL_CTX_set_cert_store(ctx, trust);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     verifyPeer);
  if (server) {
    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
  } else {
    SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2));
  }
  return owner;
}

Result<SslPtr> newSsl(SSL_CTX* ctx, const IdentityCert& cert) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) return fail(ErrorCode::kTls, "SSL_new: " + takeOpenSslErrors());
  if (auto st = useIdentity(ssl.get(), cert); !st) return fail(st.error());
  return ssl;
}

int appendWrite(BIO* b, const char* data, size_t len, size_t* written) {
  static_cast<ByteRing*>(BIO_get_data(b))->append(reinterpret_cast<const uint8_t*>(data), len);
  *written = len;
  return 1;
}

long appendCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int appendCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

}  // namespace

void attachPeerPolicy(SSL* ssl, PeerPolicy* policy) {
  SSL_set_ex_data(ssl, policyIndex(), policy);
}

BIO* newAppendBio(ByteRing* sink) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ztunnel-append");
    BIO_meth_set_write_ex(m, appendWrite);
    BIO_meth_set_ctrl(m, appendCtrl);
    BIO_meth_set_create(m, appendCreate);
    return m;
  }();
  BIO* b = BIO_new(method);
  if (b) BIO_set_data(b, sink);
  return b;
}

Result<std::unique_ptr<TlsContexts>> TlsContexts::create(CertStore& certs) {
  std::unique_ptr<TlsContexts> t(new TlsContexts());
  auto s = makeContext(TLS_server_method(), certs.trustStore(), true);
  if (!s) return fail(s.error());
  t->server_ = std::move(*s);
  auto c = makeContext(TLS_client_method(), certs.trustStore(), false);
  if (!c) return fail(c.error());
  t->client_ = std::move(*c);
  return t;
}

Result<SslPtr> TlsContexts::newServerSsl(const IdentityCert& cert) const {
  auto ssl = newSsl(server_.get(), cert);
  if (ssl) SSL_set_accept_state(ssl->get());
  return ssl;
}

Result<SslPtr> TlsContexts::newClientSsl(const IdentityCert& cert) const {
  auto ssl = newSsl(client_.get(), cert);
  if (ssl) SSL_set_connect_state(ssl->get());
  return ssl;
}

Status useIdentity(SSL* ssl, const IdentityCert& cert) {
  if (SSL_use_certificate(ssl, cert.leaf.get()) != 1 ||
      SSL_use_PrivateKey(ssl, cert.key.get()) != 1 || SSL_set1_chain(ssl, cert.chain.get()) != 1)
    return fail(ErrorCode::kTls, "install identity " + cert.identity + ": " + takeOpenSslErrors());
  return {};
}

std::vector<std::string> peerUriSans(SSL* ssl) {
  return uriSans(SSL_get0_peer_certificate(ssl));
}

bool alpnAllowsH2(SSL* ssl) {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  return len == 0 || (len == 2 && std::memcmp(proto, "h2", 2) == 0);
}

std::string describeTlsFailure(SSL* ssl) {
  long verify = SSL_get_verify_result(ssl);
  std::string errors = takeOpenSslErrors();
  if (verify != X509_V_OK)
    return std::string("peer certificate rejected: ") + X509_verify_cert_error_string(verify) +
           " (" + errors + ")";
  return errors;
}

}  // namespace zt
