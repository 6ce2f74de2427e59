#include "drivers/ingress/uring_loop.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

// The provided-buffer group the receives draw from.
constexpr int kBufferGroup = 0;

// Setup flags, best first: the worker is the ring's only submitter (SINGLE_ISSUER), and completions are
// processed only when it waits (DEFER_TASKRUN, Linux 6.1): no task-work interrupts mid-loop. Older kernels
// refuse the flags with EINVAL; COOP_TASKRUN (5.19) then, else none.
constexpr unsigned kSetupFlags[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                    IORING_SETUP_COOP_TASKRUN, 0};

}  // namespace

Result<std::unique_ptr<UringLoop>> UringLoop::create(unsigned entries, unsigned buffers) {
  std::unique_ptr<UringLoop> loop(new UringLoop());
  int rc = -EINVAL;
  for (unsigned flags : kSetupFlags) {
    rc = io_uring_queue_init(entries, &loop->ring_, flags);
    if (rc != -EINVAL) {
      break;
    }
  }
  if (rc < 0) {
    return fail(ErrorKind::unavailable, fmt::format("io_uring_setup: {}", std::strerror(-rc)));
  }
  loop->ring_ready_ = true;
  if ((loop->ring_.features & IORING_FEAT_EXT_ARG) == 0) {
    // Without it a timed wait needs a timeout operation of its own per iteration.
    return fail(ErrorKind::unavailable, "io_uring: the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)");
  }
  unsigned count = 1;
  while (count < buffers) {
    count <<= 1;
  }
  loop->buffer_count_ = count;
  loop->buffer_ring_bytes_ = sizeof(io_uring_buf) * count;
  void* ring =
      mmap(nullptr, loop->buffer_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring == MAP_FAILED) {
    return fail(ErrorKind::unavailable, fmt::format("io_uring buffer ring: mmap: {}", std::strerror(errno)));
  }
  loop->buffer_ring_ = static_cast<io_uring_buf_ring*>(ring);
  io_uring_buf_ring_init(loop->buffer_ring_);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(ring);
  registration.ring_entries = count;
  registration.bgid = kBufferGroup;
  rc = io_uring_register_buf_ring(&loop->ring_, &registration, 0);
  if (rc < 0) {
    munmap(ring, loop->buffer_ring_bytes_);
    loop->buffer_ring_ = nullptr;
    return fail(ErrorKind::unavailable, fmt::format("io_uring_register_buf_ring: {}", std::strerror(-rc)));
  }
  loop->buffers_.reset(new char[static_cast<std::size_t>(count) * kBufferSize]);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(loop->buffer_ring_, loop->buffer_at(id), kBufferSize,
                          static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(loop->buffer_ring_, static_cast<int>(count));
  return loop;
}

UringLoop::~UringLoop() {
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);  // cancels what is in flight and drops its socket references
  }
  close_retired();
  if (buffer_ring_ != nullptr) {
    munmap(buffer_ring_, buffer_ring_bytes_);
  }
}

io_uring_sqe* UringLoop::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The queue is full: hand it to the kernel now (rare: the queue holds two operations per connection).
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void UringLoop::connect(int fd, const sockaddr* address, socklen_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_connect(sqe, fd, address, length);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringLoop::send(int fd, const char* data, std::size_t length, std::uint64_t tag) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, fd, data, length, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag);
}

void UringLoop::receive(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag);
}

void UringLoop::retire(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  retired_.push_back(fd);
}

void UringLoop::close_retired() {
  for (int fd : retired_) {
    ::close(fd);
  }
  retired_.clear();
}

int UringLoop::submit_and_wait(Duration timeout) {
  const std::int64_t ns = std::max<std::int64_t>(timeout.count(), 0);
  __kernel_timespec wait{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &wait, nullptr);
  close_retired();
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    return rc;
  }
  return 0;
}

void UringLoop::recycle(unsigned id) {
  io_uring_buf_ring_add(buffer_ring_, buffer_at(id), kBufferSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(buffer_count_), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

}  // namespace kp::drivers::ingress
