#pragma once

// One worker's io_uring: the submission and completion rings, and a ring of provided receive buffers (the
// kernel picks a buffer when data arrives, so a connection waiting for its response holds no buffer).
//
// Operations are queued (connect, send, multishot receive) and go to the kernel together with the wait, in
// one io_uring_enter per loop iteration: that batching across connections is where the system calls per
// request go down. Each operation carries a 64-bit tag the caller chooses and gets back with its completion.
//
// Ownership and threads: one per worker thread, created, used and destroyed on it (the ring is set up
// single-issuer). The caller owns the sockets; the memory a send points at must stay valid until its
// completion. A socket with operations in flight must not be close()d: the ring holds a reference and the
// socket would live on; retire() shuts it down (the operations complete with an error or end of file) and
// closes the descriptor only after the queued operations are submitted, so a new socket cannot take its
// number under an operation still queued for the old one.

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace kp::drivers::ingress {

// One completion, as the caller sees it: `result` is the operation's return value (bytes, 0, or -errno);
// `data` the received bytes (a provided buffer, valid only during the callback); `more` false when a
// multishot receive has ended (it must be re-armed to receive again).
struct Completion {
  std::uint64_t tag = 0;
  int result = 0;
  std::string_view data;
  bool more = false;
};

class UringLoop {
 public:
  // `entries`: submission queue size (rounded up to a power of two by the kernel); `buffers` receive buffers
  // of kBufferSize bytes (a power of two). ErrorKind::unavailable with the kernel's reason when the ring or
  // the buffer ring cannot be set up ("io_uring_setup: Operation not permitted").
  static Result<std::unique_ptr<UringLoop>> create(unsigned entries, unsigned buffers);
  ~UringLoop();
  UringLoop(const UringLoop&) = delete;
  UringLoop& operator=(const UringLoop&) = delete;

  static constexpr std::size_t kBufferSize = 8 * 1024;

  void connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag);
  void send(int fd, const char* data, std::size_t length, std::uint64_t tag);
  void receive(int fd, std::uint64_t tag);  // multishot, into the provided buffers
  // Shuts `fd` down now and closes it after the next submission (see the header comment).
  void retire(int fd);

  // Submits what is queued, waits up to `timeout` for a completion, then calls on_completion for each one
  // there is (it may queue operations and retire sockets). Returns the number handled, or -errno when the
  // wait itself failed (never for a timeout or a signal).
  template <typename Handler>
  int run_once(Duration timeout, Handler&& on_completion) {
    int waited = submit_and_wait(timeout);
    if (waited < 0) {
      return waited;
    }
    int handled = 0;
    io_uring_cqe* cqe = nullptr;
    // One at a time: the handler may queue operations, and with a full submission queue that submits, which
    // may post more completions; each is seen once.
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
      Completion completion{.tag = cqe->user_data,
                            .result = cqe->res,
                            .data = {},
                            .more = (cqe->flags & IORING_CQE_F_MORE) != 0};
      const bool has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
      const auto buffer = static_cast<unsigned>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      if (has_buffer && cqe->res > 0) {
        completion.data = std::string_view(buffer_at(buffer), static_cast<std::size_t>(cqe->res));
      }
      io_uring_cqe_seen(&ring_, cqe);
      on_completion(completion);
      if (has_buffer) {
        recycle(buffer);  // after the handler: it read the bytes in place
      }
      ++handled;
    }
    return handled;
  }

 private:
  UringLoop() = default;
  io_uring_sqe* next_sqe();
  int submit_and_wait(Duration timeout);
  char* buffer_at(unsigned id) { return buffers_.get() + static_cast<std::size_t>(id) * kBufferSize; }
  void recycle(unsigned id);
  void close_retired();

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;  // mmap'd, shared with the kernel
  std::size_t buffer_ring_bytes_ = 0;
  unsigned buffer_count_ = 0;
  std::unique_ptr<char[]> buffers_;
  std::vector<int> retired_;  // shut down, closed after the next submission
};

}  // namespace kp::drivers::ingress
