// Certificate loading and development-mode minting with OpenSSL 3. Touches files.
#include "ztunnel/sys/cert_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>

#include "ztunnel/core/spiffe_identity.h"

namespace zt {

std::string takeOpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

namespace {

time_t asTimeT(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

Result<std::vector<ambient::X509Ptr>> readCerts(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return fail(ErrorCode::kNotFound, "open " + path, errno);
  std::vector<ambient::X509Ptr> certs;
  while (X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr)) certs.emplace_back(c);
  ERR_clear_error();
  std::fclose(f);
  if (certs.empty()) return fail(ErrorCode::kInvalidInput, path + " holds no PEM certificate");
  return certs;
}

Result<ambient::EvpPkeyPtr> readKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return fail(ErrorCode::kNotFound, "open " + path, errno);
  ambient::EvpPkeyPtr k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!k) return fail(ErrorCode::kTls, path + ": " + takeOpenSslErrors());
  return k;
}

}  // namespace

Result<std::unique_ptr<CertStore>> CertStore::create(const Options& opts) {
  std::unique_ptr<CertStore> s(new CertStore());
  s->certDir_ = opts.certDir;
  s->trustDomain_ = opts.trustDomain;
  s->trust_.reset(X509_STORE_new());
  auto addRoots = [&](const std::string& path) -> Status {
    auto certs = readCerts(path);
    if (!certs) return fail(certs.error().wrap("trust bundle"));
    for (const auto& c : *certs) X509_STORE_add_cert(s->trust_.get(), c.get());
    return {};
  };
  if (!opts.certDir.empty()) {
    if (auto st = addRoots(opts.certDir + "/root-cert.pem"); !st) return fail(st.error());
  }
  if (!opts.devCaDir.empty()) {
    auto ca = readCerts(opts.devCaDir + "/ca-cert.pem");
    if (!ca) return fail(ca.error().wrap("--dev-ca"));
    s->caCert_ = std::move(ca->front());  // the rest are dropped
    auto key = readKey(opts.devCaDir + "/ca-key.pem");
    if (!key) return fail(key.error().wrap("--dev-ca"));
    s->caKey_ = std::move(*key);
    X509_STORE_add_cert(s->trust_.get(), s->caCert_.get());
    if (X509_check_private_key(s->caCert_.get(), s->caKey_.get()) != 1)
      return fail(ErrorCode::kInvalidInput, "--dev-ca: ca-key.pem does not match ca-cert.pem");
  }
  return s;
}

Result<std::shared_ptr<const IdentityCert>> CertStore::get(const std::string& identity) {
  std::lock_guard lock(mu_);
  time_t now = time(nullptr);
  auto it = cache_.find(identity);
  if (it != cache_.end() && it->second->notAfter - now > 3600) return it->second;
  Result<std::shared_ptr<const IdentityCert>> fresh =
      fail(ErrorCode::kNotFound,
           "no certificate source for " + identity + " (give --cert-dir or --dev-ca)");
  if (!certDir_.empty()) fresh = load(identity);
  if (!fresh && caKey_) fresh = mint(identity);
  if (!fresh) return fresh;
  cache_[identity] = *fresh;
  return fresh;
}

Result<std::shared_ptr<const IdentityCert>> CertStore::load(const std::string& identity) {
  auto id = SpiffeIdentity::parse(identity);
  if (!id) return fail(id.error());
  std::string dir = certDir_ + "/" + id->ns + "/" + id->serviceAccount;
  auto certs = readCerts(dir + "/cert-chain.pem");
  if (!certs) return fail(certs.error());
  auto key = readKey(dir + "/key.pem");
  auto out = std::make_shared<IdentityCert>();
  out->identity = identity;
  out->leaf = std::move(certs->front());
  out->chain.reset(sk_X509_new_null());
  for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(out->chain.get(), (*certs)[i].release());
  if (!key) return fail(key.error());
  out->key = std::move(*key);
  out->notAfter = asTimeT(X509_get0_notAfter(out->leaf.get()));
  if (X509_check_private_key(out->leaf.get(), out->key.get()) != 1)
    return fail(ErrorCode::kInvalidInput, dir + ": key.pem does not match cert-chain.pem");
  return std::shared_ptr<const IdentityCert>(out);
}

Result<std::shared_ptr<const IdentityCert>> CertStore::mint(const std::string& identity) {
  auto id = SpiffeIdentity::parse(identity);
  if (!id) return fail(id.error());
  auto out = std::make_shared<IdentityCert>();
  out->identity = identity;
  out->key.reset(EVP_EC_gen("P-256"));
  out->leaf.reset(X509_new());
  out->chain.reset(sk_X509_new_null());
  if (!out->key || !out->leaf) return fail(ErrorCode::kTls, "mint key: " + takeOpenSslErrors());
  X509* c = out->leaf.get();
  X509_set_version(c, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  ambient::BignumPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c));
  X509_gmtime_adj(X509_getm_notBefore(c), -300);
  X509_gmtime_adj(X509_getm_notAfter(c), 24 * 3600);
  X509_set_issuer_name(c, X509_get_subject_name(caCert_.get()));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ztunnel-dev"), -1, -1, 0);
  X509_set_pubkey(c, out->key.get());
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, caCert_.get(), c, nullptr, nullptr, 0);
  std::string san = "URI:" + identity;
  const std::pair<int, std::string> exts[] = {
      {NID_subject_alt_name, san},
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  for (const auto& [nid, value] : exts) {
    ambient::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext) return fail(ErrorCode::kTls, "mint extension: " + takeOpenSslErrors());
    X509_add_ext(c, ext.get(), -1);
  }
  if (X509_sign(c, caKey_.get(), EVP_sha256()) <= 0)
    return fail(ErrorCode::kTls, "mint sign: " + takeOpenSslErrors());
  out->notAfter = asTimeT(X509_get0_notAfter(c));
  return std::shared_ptr<const IdentityCert>(out);
}

std::string CertStore::describe() const {
  std::lock_guard lock(mu_);
  std::string out = "{\"mode\":\"";
  out += caKey_ ? (certDir_.empty() ? "dev-ca" : "files+dev-ca")
                : (certDir_.empty() ? "none" : "files");
  out += "\",\"identities\":[";
  bool first = true;
  for (const auto& [id, c] : cache_) {
    if (!first) out += ",";
    first = false;
    out += "{\"identity\":\"" + id + "\",\"notAfter\":" + std::to_string(c->notAfter) + "}";
  }
  out += "]}";
  return out;
}

}  // namespace zt
