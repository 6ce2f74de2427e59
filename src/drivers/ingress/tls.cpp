#include "drivers/ingress/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

bool is_ip_literal(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 || inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

std::string drain_openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += (text.empty() ? "" : "; ") + std::string(buffer);
  }
  return text;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsSettings& settings) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (context == nullptr) {
    return fail(ErrorKind::internal, "TLS: cannot create a context: " + drain_openssl_errors());
  }
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // Every connection does a full handshake: connection-rate runs measure exactly that, and keep-alive runs
  // handshake once per connection anyway.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (settings.insecure) {
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
    int loaded = settings.ca_file.empty()
                     ? SSL_CTX_set_default_verify_paths(context)
                     : SSL_CTX_load_verify_locations(context, settings.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      std::string why = drain_openssl_errors();
      SSL_CTX_free(context);
      return fail(ErrorKind::input,
                  settings.ca_file.empty()
                      ? fmt::format("TLS: cannot load the system trust store: {}", why)
                      : fmt::format("--cacert: cannot load \"{}\": {}", settings.ca_file, why));
    }
  }
  return std::shared_ptr<TlsContext>(new TlsContext(context, settings.insecure));
}

TlsContext::~TlsContext() {
  SSL_CTX_free(context_);
}

namespace {

// Each direction of a memory session's BIO pair holds this much: a whole 8 KiB receive buffer always fits
// next to an incomplete record (at most ~17 KiB), and a request of up to this size is encrypted in one go.
constexpr std::size_t kMemoryBioSize = 64 * 1024;

}  // namespace

SSL* TlsContext::new_session(int fd, const std::string& name) const {
  SSL* ssl = new_client(name);
  if (ssl != nullptr) {
    SSL_set_fd(ssl, fd);
  }
  return ssl;
}

SSL* TlsContext::new_memory_session(const std::string& name, BIO** network) const {
  BIO* internal = nullptr;
  if (BIO_new_bio_pair(&internal, kMemoryBioSize, network, kMemoryBioSize) != 1) {
    return nullptr;
  }
  SSL* ssl = new_client(name);
  if (ssl == nullptr) {
    BIO_free(internal);
    BIO_free(*network);
    *network = nullptr;
    return nullptr;
  }
  SSL_set_bio(ssl, internal, internal);  // the SSL owns its end
  return ssl;
}

SSL* TlsContext::new_client(const std::string& name) const {
  SSL* ssl = SSL_new(context_);
  if (ssl == nullptr) {
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  if (!is_ip_literal(name)) {
    SSL_set_tlsext_host_name(ssl, name.c_str());
  }
  if (!insecure_) {
    // Checks the certificate's SAN (DNS name or IP address) against `name`.
    if (is_ip_literal(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set1_host(ssl, name.c_str());
    }
  }
  return ssl;
}

std::string tls_error_text(SSL* ssl, int ssl_error) {
  if (ssl != nullptr) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return fmt::format("TLS certificate verify failed: {}", X509_verify_cert_error_string(verify));
    }
  }
  if (ssl_error == SSL_ERROR_SYSCALL) {
    std::string queued = drain_openssl_errors();
    if (!queued.empty()) {
      return "TLS: " + queued;
    }
    return errno != 0 ? fmt::format("TLS: {}", std::strerror(errno)) : "TLS: connection closed by the peer";
  }
  std::string queued = drain_openssl_errors();
  return queued.empty() ? fmt::format("TLS error {}", ssl_error) : "TLS: " + queued;
}

}  // namespace kp::drivers::ingress
