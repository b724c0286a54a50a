// OpenSSL 3 from Debian (libssl-dev). Several of its calls are macros over SSL_CTX_ctrl /
// BIO_ctrl, which Swift cannot import: the inline functions below name them.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

static inline int larder_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int larder_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long larder_bio_pending(BIO *bio) { return (long)BIO_ctrl_pending(bio); }
static inline long larder_bio_set_mem_eof_return(BIO *bio, long v) { return BIO_set_mem_eof_return(bio, v); }
static inline long larder_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline X509 *larder_ssl_get_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }

// Hardening as Redis' tls.c sets it: no SSLv2/v3, no compression, no renegotiation. Larder's
// addition: OpenSSL's record buffers (~34 KB) are released while a connection is idle.
static inline void larder_ssl_ctx_set_defaults(SSL_CTX *ctx, int prefer_server_ciphers) {
    uint64_t options = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (prefer_server_ciphers) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, options);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}
