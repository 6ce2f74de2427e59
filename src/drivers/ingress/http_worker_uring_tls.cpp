// HttpWorker's TLS on io_uring (http_worker.hpp): OpenSSL encrypts and decrypts in memory (a BIO pair per
// connection, tls.hpp: new_memory_session) and the ring moves the ciphertext, so a TLS request costs the same
// ring operations as a plain one. The handshake, the request's records and any alert go out through one send
// at a time per connection; received bytes go into the session and come out as plaintext to the parser.

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "drivers/ingress/http_worker.hpp"

namespace kp::drivers::ingress {

void HttpWorker::tls_flush(std::size_t index) {
  Conn& conn = conns_[index];
  if (conn.send_in_flight || conn.network == nullptr) {
    return;  // what the session wrote meanwhile waits in the BIO for this send's completion
  }
  const std::size_t pending = BIO_ctrl_pending(conn.network);
  if (pending == 0) {
    return;
  }
  conn.out.resize(pending);
  const int n = BIO_read(conn.network, conn.out.data(), static_cast<int>(pending));
  if (n <= 0) {
    conn.out.clear();
    return;
  }
  conn.out.resize(static_cast<std::size_t>(n));
  conn.out_sent = 0;
  conn.send_in_flight = true;
  uring_->send(conn.fd, conn.out.data(), conn.out.size(), uring_token(index, Op::send));
}

// Encrypts what is left of the request into the BIO (as much as fits) and sends it; the request counts as
// written once its last record's send completes.
void HttpWorker::uring_tls_send(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  const std::string& request = *conn.request;
  while (conn.written < request.size()) {
    ERR_clear_error();
    const int rc =
        SSL_write(conn.ssl, request.data() + conn.written, static_cast<int>(request.size() - conn.written));
    if (rc <= 0) {
      const int error = SSL_get_error(conn.ssl, rc);
      if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
        break;  // the BIO is full: the rest after this flush's completion
      }
      fail_conn(index, now, result_.write_errors, tls_error_text(conn.ssl, error));
      return;
    }
    conn.written += static_cast<std::size_t>(rc);
  }
  tls_flush(index);
  if (conn.written == request.size() && !conn.send_in_flight) {
    flow_->written(index, now);
    conn.state = State::awaiting;
  }
}

void HttpWorker::uring_tls_sent(std::size_t index, int result) {
  Conn& conn = conns_[index];
  const TimePoint now = clock_now();
  if (result < 0) {
    std::string why = fmt::format("write: {}", std::strerror(-result));
    if (conn.state == State::handshaking) {
      fail_conn(index, now, result_.tls_errors, "TLS handshake " + why);
    } else if (conn.state == State::sending) {
      fail_conn(index, now, result_.write_errors, std::move(why));
    } else {
      read_failed(index, now, std::move(why));  // an alert or key update while waiting: the read side's loss
    }
    return;
  }
  conn.out_sent += static_cast<std::size_t>(result);
  if (conn.out_sent < conn.out.size()) {
    uring_->send(conn.fd, conn.out.data() + conn.out_sent, conn.out.size() - conn.out_sent,
                 uring_token(index, Op::send));  // a short send: the rest
    return;
  }
  conn.out.clear();
  conn.out_sent = 0;
  conn.send_in_flight = false;
  if (conn.state == State::sending) {
    uring_tls_send(index, now);  // more of the request, or the request is written
  } else {
    tls_flush(index);
  }
}

void HttpWorker::uring_tls_received(std::size_t index, std::string_view data) {
  Conn& conn = conns_[index];
  const int n = BIO_write(conn.network, data.data(), static_cast<int>(data.size()));
  if (n != static_cast<int>(data.size())) {
    // Cannot happen with the BIO's size (tls.cpp): the session reads every complete record at once.
    read_failed(index, clock_now(), "TLS: more ciphertext than the session's buffer holds");
    return;
  }
  const std::uint32_t generation = conn.generation;
  if (conn.state == State::handshaking) {
    continue_handshake(index, clock_now());
    if (conn.generation != generation || conn.state == State::handshaking) {
      return;
    }
  }
  read_ready(index);  // records after the handshake (tickets) and responses, decrypted to the parser
  if (conn.generation == generation && conn.ssl != nullptr) {
    tls_flush(index);  // what reading made the session write (an alert, a key update)
  }
}

}  // namespace kp::drivers::ingress
