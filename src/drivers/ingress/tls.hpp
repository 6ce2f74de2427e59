#pragma once

// Client TLS for the HTTP generator (OpenSSL). One context per run, shared by the worker threads (OpenSSL
// makes SSL_new on a shared SSL_CTX thread-safe); each connection owns its SSL. Verification is on by
// default: the chain against the system store (or --cacert) and the host name; `insecure` turns both off.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "core/error.hpp"

namespace kp::drivers::ingress {

struct TlsSettings {
  bool insecure = false;
  std::string ca_file;      // PEM bundle to trust instead of the system store; empty: system store
  std::string server_name;  // SNI and the name verified; empty: the URL's host
};

class TlsContext {
 public:
  // Fails (ErrorKind::input) when the CA file cannot be read.
  static Result<std::shared_ptr<TlsContext>> create(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A client session on a connected socket, with SNI (unless `name` is an IP address) and, when verifying,
  // the name to check. Null when OpenSSL cannot allocate one.
  SSL* new_session(int fd, const std::string& name) const;
  // The same session on memory instead of a socket, for io_uring (which moves the ciphertext): the SSL reads
  // and writes records through a BIO pair whose other end, `*network`, the caller owns (BIO_free after
  // SSL_free): it writes received bytes into it and sends what it reads out of it. Null when OpenSSL cannot
  // allocate one.
  SSL* new_memory_session(const std::string& name, BIO** network) const;
  bool verifying() const { return !insecure_; }

 private:
  TlsContext(SSL_CTX* context, bool insecure) : context_(context), insecure_(insecure) {}
  SSL* new_client(const std::string& name) const;
  SSL_CTX* context_;
  bool insecure_;
};

// Why a handshake or TLS read failed, for people: "certificate verify failed: Hostname mismatch".
std::string tls_error_text(SSL* ssl, int ssl_error);

}  // namespace kp::drivers::ingress
