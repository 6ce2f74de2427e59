#include "drivers/dns/socket_io.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/socket_buffer.hpp"
#include "drivers/dns/wire.hpp"
#include "drivers/dns/worker_io.hpp"

namespace kp::drivers::dns {

timespec to_timespec(Duration duration) {
  duration = std::max(duration, Duration::zero());
  return timespec{static_cast<time_t>(duration.count() / 1'000'000'000),
                  static_cast<long>(duration.count() % 1'000'000'000)};
}

std::string errno_text(int error) {
  return std::strerror(error);
}

namespace {

// Messages per sendmmsg/recvmmsg call.
constexpr std::size_t kBatch = 64;
// Datagrams in one UDP GSO send at most (the kernel's UDP_MAX_SEGMENTS is at least 64).
constexpr std::size_t kMaxGsoSegments = 64;
// After a TCP connection fails, queries for it fail at once for this long instead of reconnecting per query.
constexpr Duration kReconnectBackoff = std::chrono::milliseconds(100);
constexpr std::size_t kTcpReadChunk = 64 * 1024;
constexpr std::size_t kUdpReceiveBuffer = 4096;

struct Channel {
  Protocol protocol = Protocol::udp;
  Fd fd;
  std::vector<OutgoingQuery> pending;  // UDP: queued for the next sendmmsg
  // TCP
  bool connecting = false;
  bool broken = false;  // closed or failed; reopened after retry_at
  TimePoint retry_at{};
  std::vector<std::uint8_t> out;
  std::size_t out_offset = 0;
  std::vector<std::uint8_t> in;
  // The epoll registration of `fd` (a reopened socket is a new registration).
  bool registered = false;
  std::uint32_t registered_events = 0;
};

class SocketIo final : public WorkerIo {
 public:
  SocketIo(const LoadOptions& options, Clock& clock, std::size_t receive_size)
      : options_(options), clock_(clock) {
    receive_buffers_.assign(kBatch * receive_size, 0);
    receive_iov_.resize(kBatch);
    receive_msgs_.resize(kBatch);
    for (std::size_t k = 0; k < kBatch; ++k) {
      receive_iov_[k] = iovec{receive_buffers_.data() + k * receive_size, receive_size};
      receive_msgs_[k] = mmsghdr{};
      receive_msgs_[k].msg_hdr.msg_iov = &receive_iov_[k];
      receive_msgs_[k].msg_hdr.msg_iovlen = 1;
    }
    send_iov_.resize(2 * kBatch);
    send_msgs_.resize(kBatch);
  }

  Result<std::uint32_t> open(Protocol protocol, TimePoint now, IoEvents& events) override {
    if (!epoll_.valid()) {
      // epoll, not poll: the sockets stay registered, so a wait costs the same with 1 or 100 of them.
      epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
      if (!epoll_.valid()) {
        return fail(ErrorKind::network, fmt::format("epoll: {}", errno_text(errno)));
      }
    }
    auto channel = std::make_unique<Channel>();
    channel->protocol = protocol;
    if (protocol == Protocol::udp) {
      if (Result<void> opened = open_udp(*channel); !opened) {
        return std::unexpected(opened.error());
      }
    } else {
      // A refused connection is not an error here: its queries fail and count, and the run ends by its
      // failure window, so an unreachable server gets a verdict like a silent one.
      open_tcp(*channel, now, events);
    }
    channels_.push_back(std::move(channel));
    return static_cast<std::uint32_t>(channels_.size() - 1);
  }

  bool usable(std::uint32_t index, TimePoint now, IoEvents& events) override {
    Channel& channel = *channels_[index];
    if (channel.protocol == Protocol::tcp && channel.broken && now >= channel.retry_at) {
      open_tcp(channel, now, events);
    }
    return !channel.broken;
  }

  bool queue(std::uint32_t index, const OutgoingQuery& query) override {
    Channel& channel = *channels_[index];
    if (channel.protocol == Protocol::udp) {
      channel.pending.push_back(query);
      return false;
    }
    const std::size_t length = query.rest.size() + 2;
    channel.out.push_back(static_cast<std::uint8_t>(length >> 8));
    channel.out.push_back(static_cast<std::uint8_t>(length & 0xff));
    channel.out.push_back(query.id[0]);
    channel.out.push_back(query.id[1]);
    channel.out.insert(channel.out.end(), query.rest.begin(), query.rest.end());
    return true;
  }

  void flush(TimePoint now, IoEvents& events) override {
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      if (channels_[c]->protocol == Protocol::udp) {
        flush_udp(*channels_[c], now, events);
      } else {
        flush_tcp(static_cast<std::uint32_t>(c), now, events);
      }
    }
  }

  void wait(TimePoint now, TimePoint wake, IoEvents& events) override {
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      Channel& channel = *channels_[c];
      if (!channel.fd.valid()) {
        continue;
      }
      std::uint32_t wanted = EPOLLIN;
      if ((channel.protocol == Protocol::tcp &&
           (channel.connecting || channel.out_offset < channel.out.size())) ||
          (channel.protocol == Protocol::udp && !channel.pending.empty())) {
        wanted |= EPOLLOUT;
      }
      if (channel.registered && channel.registered_events == wanted) {
        continue;
      }
      epoll_event event{};
      event.events = wanted;
      event.data.u32 = static_cast<std::uint32_t>(c);
      if (::epoll_ctl(epoll_.get(), channel.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, channel.fd.get(),
                      &event) == 0) {
        channel.registered = true;
        channel.registered_events = wanted;
      }
    }
    const timespec timeout = to_timespec(wake - now);
    const int ready =
        ::epoll_pwait2(epoll_.get(), ready_.data(), static_cast<int>(ready_.size()), &timeout, nullptr);
    if (ready <= 0) {
      return;
    }
    const TimePoint after = clock_.now();
    for (int k = 0; k < ready; ++k) {
      const std::uint32_t revents = ready_[static_cast<std::size_t>(k)].events;
      const std::uint32_t index = ready_[static_cast<std::size_t>(k)].data.u32;
      Channel& channel = *channels_[index];
      if (!channel.fd.valid()) {
        continue;  // failed earlier in this loop
      }
      if (channel.protocol == Protocol::tcp && channel.connecting &&
          (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        finish_connect(index, after, events);
        if (channel.broken) {
          continue;
        }
      }
      if ((revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        if (channel.protocol == Protocol::udp) {
          receive_udp(index, events);
        } else {
          receive_tcp(index, after, events);
        }
      }
    }
  }

  int receive_buffer() const override { return receive_buffer_; }
  std::string buffer_note() const override { return buffer_note_; }

  void close() override { channels_.clear(); }

 private:
  Result<void> open_udp(Channel& channel) {
    const auto& address = options_.server.address;
    Fd fd(::socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      return fail(ErrorKind::network, fmt::format("UDP socket: {}", errno_text(errno)));
    }
    // Bursts of answers to a window of queries overflow the default receive buffer (the anchors lost exactly
    // those); as root the size may exceed rmem_max.
    // Without CAP_NET_ADMIN (a pod) the *FORCE options are refused and rmem_max/wmem_max cap the size: the
    // grant says so, and the result line carries it (buffer_note).
    const SocketBufferGrant receive = request_socket_buffer(fd.get(), true, options_.socket_buffer);
    const SocketBufferGrant send = request_socket_buffer(fd.get(), false, options_.socket_buffer);
    if (buffer_note_.empty() && (!receive.forced || !send.forced)) {
      buffer_note_ = receive.note.empty() ? send.note
                     : send.note.empty()  ? receive.note
                                          : fmt::format("{}; {}", receive.note, send.note);
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), options_.server.length) != 0) {
      return fail(ErrorKind::network,
                  fmt::format("UDP connect to {}: {}", options_.server.text, errno_text(errno)));
    }
    int granted = 0;
    socklen_t length = sizeof granted;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0) {
      receive_buffer_ = granted;
    }
    channel.fd = std::move(fd);
    channel.registered = false;
    return {};
  }

  // Non-blocking connect; a refusal marks the channel broken and reports why.
  void open_tcp(Channel& channel, TimePoint now, IoEvents& events) {
    const auto& address = options_.server.address;
    Fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    channel.broken = true;
    channel.retry_at = now + kReconnectBackoff;
    if (!fd.valid()) {
      events.error(fmt::format("TCP socket: {}", errno_text(errno)));
      return;
    }
    int one = 1;
    (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), options_.server.length) != 0 &&
        errno != EINPROGRESS) {
      events.error(fmt::format("TCP connect to {}: {}", options_.server.text, errno_text(errno)));
      return;
    }
    channel.connecting = true;
    channel.broken = false;
    channel.fd = std::move(fd);
    channel.registered = false;
  }

  // Sends the queued queries in batches of up to kBatch: one sendmmsg per batch, and within it every run of
  // equal-sized datagrams as one message with UDP_SEGMENT (UDP GSO), so the kernel walks its stack once per
  // run instead of once per datagram; the server still receives one ordinary datagram per query. Where GSO is
  // refused (an old kernel, a device without it) each datagram is its own message.
  void flush_udp(Channel& channel, TimePoint now, IoEvents& events) {
    std::size_t done = 0;
    bool retried_refusal = false;
    auto size_of = [](const OutgoingQuery& query) { return query.rest.size() + 2; };
    while (done < channel.pending.size()) {
      const std::size_t n = std::min(kBatch, channel.pending.size() - done);
      const auto first = channel.pending.begin() + static_cast<std::ptrdiff_t>(done);
      if (gso_) {
        std::stable_sort(
            first, first + static_cast<std::ptrdiff_t>(n),
            [&](const OutgoingQuery& a, const OutgoingQuery& b) { return size_of(a) < size_of(b); });
      }
      std::size_t messages = 0;
      for (std::size_t k = 0; k < n;) {
        const std::size_t size = size_of(channel.pending[done + k]);
        std::size_t run = 1;
        while (gso_ && k + run < n && run < kMaxGsoSegments &&
               size_of(channel.pending[done + k + run]) == size) {
          ++run;
        }
        for (std::size_t j = k; j < k + run; ++j) {
          OutgoingQuery& query = channel.pending[done + j];
          send_iov_[2 * j] = iovec{query.id.data(), 2};
          send_iov_[2 * j + 1] = iovec{const_cast<std::uint8_t*>(query.rest.data()), query.rest.size()};
        }
        mmsghdr& message = send_msgs_[messages];
        message = mmsghdr{};
        message.msg_hdr.msg_iov = &send_iov_[2 * k];
        message.msg_hdr.msg_iovlen = 2 * run;
        if (run > 1) {
          ControlBuffer& control = send_controls_[messages];
          message.msg_hdr.msg_control = control.bytes;
          message.msg_hdr.msg_controllen = sizeof control.bytes;
          cmsghdr* header = CMSG_FIRSTHDR(&message.msg_hdr);
          header->cmsg_level = SOL_UDP;
          header->cmsg_type = UDP_SEGMENT;
          header->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
          const auto segment = static_cast<std::uint16_t>(size);
          std::memcpy(CMSG_DATA(header), &segment, sizeof segment);
        }
        message_runs_[messages] = run;
        ++messages;
        k += run;
      }
      const int sent = ::sendmmsg(channel.fd.get(), send_msgs_.data(), static_cast<unsigned>(messages), 0);
      if (sent > 0) {
        for (int m = 0; m < sent; ++m) {
          for (std::size_t j = 0; j < message_runs_[static_cast<std::size_t>(m)]; ++j) {
            events.sent(channel.pending[done++].slot, now);
          }
        }
        continue;
      }
      const int error = errno;
      if (error == EINTR) {
        continue;
      }
      if (error == EAGAIN || error == ENOBUFS) {
        break;  // the send buffer is full: the rest goes out on a later turn (late, and counted so)
      }
      if (error == ECONNREFUSED) {
        // An earlier datagram drew an ICMP port unreachable; the report consumed the error, so try again
        // once.
        events.refused();
        if (!retried_refusal) {
          retried_refusal = true;
          continue;
        }
      }
      if (gso_ && message_runs_[0] > 1 && (error == EIO || error == EINVAL || error == ENOPROTOOPT)) {
        gso_ = false;  // not on this path: one datagram per message from now on
        continue;
      }
      // The first message of the batch was not sent: fail its queries and go on with the rest.
      for (std::size_t j = 0; j < message_runs_[0]; ++j) {
        events.send_failed(channel.pending[done++].slot, now,
                           fmt::format("send to {}: {}", options_.server.text, errno_text(error)));
      }
      retried_refusal = false;
    }
    channel.pending.erase(channel.pending.begin(),
                          channel.pending.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void flush_tcp(std::uint32_t index, TimePoint now, IoEvents& events) {
    Channel& channel = *channels_[index];
    if (channel.broken || channel.connecting || channel.out_offset >= channel.out.size()) {
      return;
    }
    while (channel.out_offset < channel.out.size()) {
      const ssize_t written = ::send(channel.fd.get(), channel.out.data() + channel.out_offset,
                                     channel.out.size() - channel.out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (written > 0) {
        channel.out_offset += static_cast<std::size_t>(written);
        continue;
      }
      if (written < 0 && errno == EINTR) {
        continue;
      }
      if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // EPOLLOUT resumes it
      }
      fail_channel(index, now, fmt::format("TCP send to {}: {}", options_.server.text, errno_text(errno)),
                   events);
      return;
    }
    channel.out.clear();
    channel.out_offset = 0;
  }

  // A TCP connection failed or closed: the worker fails its queries in flight; the connection is opened again
  // for later queries after a short backoff.
  void fail_channel(std::uint32_t index, TimePoint now, std::string why, IoEvents& events) {
    Channel& channel = *channels_[index];
    channel.out.clear();
    channel.out_offset = 0;
    channel.in.clear();
    channel.fd.reset();  // closing also removes it from the epoll set
    channel.registered = false;
    channel.connecting = false;
    channel.broken = true;
    channel.retry_at = now + kReconnectBackoff;
    events.channel_failed(index, now, std::move(why));
  }

  void receive_udp(std::uint32_t index, IoEvents& events) {
    Channel& channel = *channels_[index];
    while (true) {
      const int got = ::recvmmsg(channel.fd.get(), receive_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == ECONNREFUSED) {
          events.refused();
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          events.error(fmt::format("receive from {}: {}", options_.server.text, errno_text(errno)));
        }
        return;
      }
      // One timestamp per batch: every datagram in it was already waiting in the socket at this moment.
      const TimePoint now = clock_.now();
      for (int k = 0; k < got; ++k) {
        const mmsghdr& message = receive_msgs_[static_cast<std::size_t>(k)];
        if ((message.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
          events.malformed();  // larger than any answer we asked for
          continue;
        }
        events.message(
            index,
            std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(message.msg_hdr.msg_iov->iov_base),
                                          message.msg_len),
            now);
      }
      if (static_cast<std::size_t>(got) < kBatch) {
        return;
      }
    }
  }

  void receive_tcp(std::uint32_t index, TimePoint now, IoEvents& events) {
    Channel& channel = *channels_[index];
    if (channel.broken) {
      return;
    }
    while (true) {
      const std::size_t old_size = channel.in.size();
      channel.in.resize(old_size + kTcpReadChunk);
      const ssize_t got = ::recv(channel.fd.get(), channel.in.data() + old_size, kTcpReadChunk, MSG_DONTWAIT);
      if (got > 0) {
        channel.in.resize(old_size + static_cast<std::size_t>(got));
        continue;
      }
      channel.in.resize(old_size);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      const int error = errno;
      // Answers that arrived before the close still count.
      parse_frames(index, clock_.now(), events);
      fail_channel(index, now,
                   got == 0 ? fmt::format("TCP connection to {} closed by the server", options_.server.text)
                            : fmt::format("TCP receive from {}: {}", options_.server.text, errno_text(error)),
                   events);
      return;
    }
    parse_frames(index, clock_.now(), events);
  }

  void parse_frames(std::uint32_t index, TimePoint now, IoEvents& events) {
    Channel& channel = *channels_[index];
    std::size_t at = 0;
    while (channel.in.size() - at >= 2) {
      const std::size_t length = read_u16(channel.in.data() + at);
      if (channel.in.size() - at - 2 < length) {
        break;
      }
      events.message(index, std::span<const std::uint8_t>(channel.in.data() + at + 2, length), now);
      at += 2 + length;
    }
    channel.in.erase(channel.in.begin(), channel.in.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void finish_connect(std::uint32_t index, TimePoint now, IoEvents& events) {
    Channel& channel = *channels_[index];
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(channel.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error != 0) {
      fail_channel(index, now, fmt::format("TCP connect to {}: {}", options_.server.text, errno_text(error)),
                   events);
      return;
    }
    channel.connecting = false;
  }

  const LoadOptions& options_;
  Clock& clock_;
  std::vector<std::unique_ptr<Channel>> channels_;
  int receive_buffer_ = 0;
  std::string buffer_note_;  // why the socket buffers are smaller than asked ("" when forced)
  std::vector<std::uint8_t> receive_buffers_;
  std::vector<iovec> receive_iov_;
  std::vector<mmsghdr> receive_msgs_;
  std::vector<iovec> send_iov_;
  std::vector<mmsghdr> send_msgs_;
  struct ControlBuffer {
    alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
  };
  std::array<ControlBuffer, kBatch> send_controls_{};
  std::array<std::size_t, kBatch> message_runs_{};
  bool gso_ = true;
  Fd epoll_;
  std::array<epoll_event, 64> ready_{};
};

}  // namespace

IoFactory socket_io() {
  return [](const Workload& workload, const LoadOptions& options, int /*worker*/,
            Clock& clock) -> std::unique_ptr<WorkerIo> {
    std::size_t receive_size = kUdpReceiveBuffer;
    for (const PreparedQuery& query : workload.queries) {
      // An EDNS query advertises its payload size: the buffer must hold that much.
      if (query.wire.size() > kHeaderSize + query.question_size) {
        receive_size = std::max<std::size_t>(receive_size, 65535);
      }
    }
    return std::make_unique<SocketIo>(options, clock, receive_size);
  };
}

}  // namespace kp::drivers::dns
