// Move-only owners of OpenSSL objects (CPtr with OpenSSL's own free functions). Header only and
// links nothing by itself: only code that already uses OpenSSL includes it. No logic here.
#pragma once

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/sys/c_ptr.h"

namespace ambient {

namespace openssl_detail {
// sk_X509_pop_free is a macro: a named function can be a template argument.
inline void freeX509Stack(STACK_OF(X509) * s) {
  sk_X509_pop_free(s, X509_free);
}
inline void freeGeneralNames(GENERAL_NAMES* n) {
  GENERAL_NAMES_free(n);
}
}  // namespace openssl_detail

using SslCtxPtr = CPtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = CPtr<SSL, SSL_free>;
using X509Ptr = CPtr<X509, X509_free>;
using X509StorePtr = CPtr<X509_STORE, X509_STORE_free>;
using X509StackPtr = CPtr<STACK_OF(X509), openssl_detail::freeX509Stack>;
using X509ExtensionPtr = CPtr<X509_EXTENSION, X509_EXTENSION_free>;
using EvpPkeyPtr = CPtr<EVP_PKEY, EVP_PKEY_free>;
using BignumPtr = CPtr<BIGNUM, BN_free>;
using GeneralNamesPtr = CPtr<GENERAL_NAMES, openssl_detail::freeGeneralNames>;

}  // namespace ambient
