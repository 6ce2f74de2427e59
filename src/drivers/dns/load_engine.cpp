#include "drivers/dns/load_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "drivers/dns/id_pool.hpp"

namespace kp::drivers::dns {
namespace {

// Messages per sendmmsg/recvmmsg call.
constexpr std::size_t kBatch = 64;
// Datagrams in one UDP GSO send at most (the kernel's UDP_MAX_SEGMENTS is at least 64).
constexpr std::size_t kMaxGsoSegments = 64;
// Lookups started in one loop turn at most, so a backlog cannot starve the receive side.
constexpr std::size_t kMaxStartsPerTurn = 1024;
// The longest a worker sleeps: cancellation and the other workers' stop are noticed within this.
constexpr Duration kMaxWait = std::chrono::milliseconds(20);
// After a TCP connection fails, queries for it fail at once for this long instead of reconnecting per query.
constexpr Duration kReconnectBackoff = std::chrono::milliseconds(100);
constexpr std::size_t kTcpReadChunk = 64 * 1024;
constexpr std::size_t kUdpReceiveBuffer = 4096;
// Max mode without a window: dnsperf's default -q.
constexpr std::uint32_t kDefaultWindow = 100;

std::string errno_text(int error) {
  return std::strerror(error);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

timespec to_timespec(Duration duration) {
  duration = std::max(duration, Duration::zero());
  return timespec{static_cast<time_t>(duration.count() / 1'000'000'000),
                  static_cast<long>(duration.count() % 1'000'000'000)};
}

// One query (or lookup) in flight. A slot is reused; `generation` tells its timeout entries apart.
struct Slot {
  TimePoint lookup_intended{};  // the lookup's intended start: the base of its latency
  TimePoint query_intended{};  // this query's: the lookup's for the first, the previous answer for walk steps
  TimePoint sent{};
  std::uint32_t lookup = 0;
  std::uint32_t channel = 0;
  std::uint32_t generation = 0;
  std::uint16_t step = 0;
  std::uint16_t id = 0;
  std::array<std::uint8_t, 2> id_wire{};  // the ID in network order; sent from here, before the prepared rest
  bool active = false;
  bool on_wire = false;        // sent; false while queued for the next sendmmsg
  bool paced_pending = false;  // the pacer has not yet been told when this lookup went out
};

struct TimeoutEntry {
  std::uint32_t slot;
  std::uint32_t generation;
  TimePoint deadline;
};

struct Channel {
  Channel(Protocol p, std::uint16_t first_id) : protocol(p), ids(first_id), slot_of_id(IdPool::kIds, 0) {}

  Protocol protocol;
  Fd fd;
  IdPool ids;
  std::vector<std::uint32_t> slot_of_id;  // by ID: slot index + 1; 0 = no query in flight with this ID
  std::uint32_t in_flight = 0;
  std::vector<std::uint32_t> pending;  // UDP: slots queued for the next sendmmsg
  // TCP
  bool connecting = false;
  bool broken = false;  // closed or failed; reconnect after retry_at
  TimePoint retry_at{};
  std::vector<std::uint8_t> out;
  std::size_t out_offset = 0;
  std::vector<std::uint8_t> in;
  // The worker's epoll registration of `fd` (a reopened socket is a new registration).
  bool registered = false;
  std::uint32_t registered_events = 0;
};

// What the workers share: stop flags and, for progress, running totals.
struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> last_response_ns{0};  // since the start, by any worker
  std::mutex mutex;
  std::string stop_reason;
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> lost{0};

  void request_stop(std::string reason) {
    std::lock_guard lock(mutex);
    if (stop_reason.empty()) {
      stop_reason = std::move(reason);
    }
    stop.store(true, std::memory_order_release);
  }
};

enum class Outcome { answered, negative, failed, lost };

struct WorkerShare {
  int index = 0;
  int clients = 1;
  std::uint32_t window = 1;
  std::optional<Rate> rate;
  std::optional<std::uint64_t> total;
  std::size_t first_lookup = 0;
};

class Worker {
 public:
  Worker(const Workload& workload, const LoadOptions& options, WorkerShare share, Clock& clock,
         engine::CancellationToken& cancel, Shared& shared, const ProgressFn& progress,
         Duration progress_interval)
      : workload_(workload),
        options_(options),
        share_(share),
        clock_(clock),
        cancel_(cancel),
        shared_(shared),
        progress_(progress),
        progress_interval_(progress_interval),
        cursor_(share.first_lookup),
        live_(options.live, Phase::dns, "query") {
    slots_.resize(share.window);
    free_slots_.reserve(share.window);
    for (std::uint32_t i = share.window; i > 0; --i) {
      free_slots_.push_back(i - 1);
    }
    std::size_t receive_buffer = kUdpReceiveBuffer;
    for (const PreparedQuery& query : workload.queries) {
      // An EDNS query advertises its payload size: the buffer must hold that much.
      if (query.wire.size() > kHeaderSize + query.question_size) {
        receive_buffer = std::max<std::size_t>(receive_buffer, 65535);
      }
    }
    receive_buffers_.assign(kBatch * receive_buffer, 0);
    receive_iov_.resize(kBatch);
    receive_msgs_.resize(kBatch);
    for (std::size_t k = 0; k < kBatch; ++k) {
      receive_iov_[k] = iovec{receive_buffers_.data() + k * receive_buffer, receive_buffer};
      receive_msgs_[k] = mmsghdr{};
      receive_msgs_[k].msg_hdr.msg_iov = &receive_iov_[k];
      receive_msgs_[k].msg_hdr.msg_iovlen = 1;
    }
    send_iov_.resize(2 * kBatch);
    send_msgs_.resize(kBatch);
  }

  Result<void> open() {
    // epoll, not poll: the sockets stay registered, so a wait costs the same with 1 or 100 of them.
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) {
      return fail(ErrorKind::network, fmt::format("epoll: {}", errno_text(errno)));
    }
    for (int c = 0; c < share_.clients; ++c) {
      auto first_id =
          static_cast<std::uint16_t>((options_.seed * 7919 + static_cast<std::uint64_t>(share_.index) * 4099 +
                                      static_cast<std::uint64_t>(c) * 257) &
                                     0xffff);
      auto channel = std::make_unique<Channel>(options_.protocol, first_id);
      if (options_.protocol == Protocol::udp) {
        if (Result<void> opened = open_udp(*channel); !opened) {
          return opened;
        }
      } else {
        // A refused connection is not an error here: its queries fail and count, and the run ends by its
        // failure window, so an unreachable server gets a verdict like a silent one.
        open_tcp(*channel, clock_.now());
      }
      channels_.push_back(std::move(channel));
    }
    primary_channels_ = channels_.size();
    return {};
  }

  void run(TimePoint start) {
    // Wake-ups are the schedule: the default 50 us timer slack would add itself to every corrected latency.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    start_ = start;
    send_end_ = start + options_.duration;
    next_progress_ = start + progress_interval_;
    if (share_.rate) {
      pacer_.emplace(*share_.rate, options_.arrival, start,
                     options_.seed + static_cast<std::uint64_t>(share_.index) * 1'000'003,
                     options_.late_tolerance);
      next_intended_ = pacer_->next();
    }
    last_response_ = start;
    bool sending = true;
    while (true) {
      TimePoint now = clock_.now();
      if (cancel_.requested()) {
        result_.cancelled = true;
        stop_sending(now);
        break;
      }
      if (now < start_) {
        wait(now, start_);
        continue;
      }
      expire(now);
      if (sending && shared_.stop.load(std::memory_order_acquire)) {
        sending = false;
        stop_sending(now);
      }
      if (sending) {
        sending = send_due(now);
        if (sending && now >= send_end_) {
          sending = false;
          stop_sending(send_end_);
        }
      }
      flush(now);
      if (!sending && active_ == 0) {
        break;
      }
      if (sending) {
        check_failure_window(now);
      }
      report_progress(now);
      wait(now, next_wake(now, sending));
    }
    finish();
  }

  LoadResult& result() { return result_; }

 private:
  const PreparedQuery& query_of(const Slot& slot) const {
    return workload_.queries[workload_.lookups[slot.lookup][slot.step]];
  }

  Result<void> open_udp(Channel& channel) {
    const auto& address = options_.server.address;
    Fd fd(::socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      return fail(ErrorKind::network, fmt::format("UDP socket: {}", errno_text(errno)));
    }
    // Bursts of answers to a window of queries overflow the default receive buffer (the anchors lost exactly
    // those); as root the size may exceed rmem_max.
    int size = options_.socket_buffer;
    for (int option : {SO_RCVBUF, SO_SNDBUF}) {
      int forced = option == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
      if (setsockopt(fd.get(), SOL_SOCKET, forced, &size, sizeof size) != 0) {
        (void)setsockopt(fd.get(), SOL_SOCKET, option, &size, sizeof size);
      }
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), options_.server.length) != 0) {
      return fail(ErrorKind::network,
                  fmt::format("UDP connect to {}: {}", options_.server.text, errno_text(errno)));
    }
    int granted = 0;
    socklen_t length = sizeof granted;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0) {
      result_.receive_buffer = granted;
    }
    channel.fd = std::move(fd);
    channel.registered = false;
    return {};
  }

  // Non-blocking connect; a refusal marks the channel broken with the reason in first_error.
  void open_tcp(Channel& channel, TimePoint now) {
    const auto& address = options_.server.address;
    Fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    channel.broken = true;
    channel.retry_at = now + kReconnectBackoff;
    if (!fd.valid()) {
      note_error(fmt::format("TCP socket: {}", errno_text(errno)));
      return;
    }
    int one = 1;
    (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), options_.server.length) != 0 &&
        errno != EINPROGRESS) {
      note_error(fmt::format("TCP connect to {}: {}", options_.server.text, errno_text(errno)));
      return;
    }
    channel.connecting = true;
    channel.broken = false;
    channel.fd = std::move(fd);
    channel.registered = false;
  }

  void note_error(std::string error) {
    if (result_.first_error.empty()) {
      result_.first_error = std::move(error);
    }
  }

  void advance_channel() {
    current_channel_ = current_channel_ + 1 >= primary_channels_ ? 0 : current_channel_ + 1;
    current_uses_ = 0;
  }

  // Starts the lookups that are due; false when this worker's count is reached.
  bool send_due(TimePoint now) {
    advance_channel();
    std::size_t started = 0;
    bool blocked = false;
    while (started < kMaxStartsPerTurn) {
      if (share_.total && result_.counters.lookups_started >= *share_.total) {
        stop_sending(now);
        return false;
      }
      TimePoint intended = now;
      if (pacer_) {
        if (next_intended_ > now || next_intended_ >= send_end_) {
          break;
        }
        intended = next_intended_;
      }
      if (free_slots_.empty()) {
        blocked = true;
        break;
      }
      start_lookup(intended, now);
      if (pacer_) {
        next_intended_ = pacer_->next();
      }
      ++started;
    }
    if (blocked && pacer_) {
      ++result_.counters.window_full;
    }
    return true;
  }

  void start_lookup(TimePoint intended, TimePoint now) {
    const std::uint32_t index = free_slots_.back();
    free_slots_.pop_back();
    Slot& slot = slots_[index];
    slot.lookup = static_cast<std::uint32_t>(cursor_);
    cursor_ = cursor_ + 1 == workload_.lookups.size() ? 0 : cursor_ + 1;
    slot.step = 0;
    slot.lookup_intended = intended;
    slot.query_intended = intended;
    slot.active = true;
    slot.paced_pending = pacer_.has_value();
    ++active_;
    ++result_.counters.lookups_started;
    queue_query(index, now, false);
  }

  // Picks a socket and an ID for the slot's current query and queues it (UDP) or writes it (TCP).
  void queue_query(std::uint32_t index, TimePoint now, bool over_tcp_fallback) {
    Slot& slot = slots_[index];
    ++slot.generation;
    slot.on_wire = false;
    std::optional<std::uint32_t> chosen;
    if (over_tcp_fallback) {
      chosen = fallback_channel(now);
    } else {
      // A turn's queries go out on one socket, up to a batch, so sendmmsg carries many per call; the socket
      // changes every turn and every batch, which spreads the load over all of them.
      for (std::size_t tries = 0; tries <= primary_channels_; ++tries) {
        if (current_uses_ >= kBatch || channels_[current_channel_]->ids.available() == 0) {
          advance_channel();
          continue;
        }
        ++current_uses_;
        chosen = static_cast<std::uint32_t>(current_channel_);
        break;
      }
      if (!chosen) {
        ++result_.counters.id_exhausted;
        fail_unsent(index, now, "every DNS ID of every socket is in flight or in quarantine", false);
        return;
      }
    }
    if (!chosen) {
      fail_unsent(index, now, "no TCP connection for the truncated answer's retry", false);
      return;
    }
    Channel& channel = *channels_[*chosen];
    if (channel.protocol == Protocol::tcp && channel.broken) {
      if (now >= channel.retry_at) {
        open_tcp(channel, now);
      }
      if (channel.broken) {
        fail_unsent(index, now, fmt::format("TCP connection to {} unavailable", options_.server.text), false);
        return;
      }
    }
    std::optional<std::uint16_t> id = channel.ids.acquire();
    if (!id) {
      ++result_.counters.id_exhausted;
      fail_unsent(index, now, "every DNS ID of the TCP connection is in flight", false);
      return;
    }
    channel.slot_of_id[*id] = index + 1;
    ++channel.in_flight;
    slot.channel = *chosen;
    slot.id = *id;
    slot.id_wire = {static_cast<std::uint8_t>(*id >> 8), static_cast<std::uint8_t>(*id & 0xff)};
    if (channel.protocol == Protocol::udp) {
      channel.pending.push_back(index);
      return;
    }
    const PreparedQuery& query = query_of(slot);
    const std::size_t length = query.wire.size();
    channel.out.push_back(static_cast<std::uint8_t>(length >> 8));
    channel.out.push_back(static_cast<std::uint8_t>(length & 0xff));
    channel.out.push_back(slot.id_wire[0]);
    channel.out.push_back(slot.id_wire[1]);
    channel.out.insert(channel.out.end(), query.wire.begin() + 2, query.wire.end());
    // Handed to our connection's buffer: from here on it is the server's (and the kernel's) time.
    mark_sent(index, now);
  }

  std::optional<std::uint32_t> fallback_channel(TimePoint now) {
    if (options_.protocol == Protocol::tcp) {
      return std::nullopt;  // already TCP: a truncated TCP answer is final
    }
    if (!fallback_) {
      auto channel = std::make_unique<Channel>(Protocol::tcp, static_cast<std::uint16_t>(share_.index * 977));
      open_tcp(*channel, now);
      channels_.push_back(std::move(channel));
      fallback_ = static_cast<std::uint32_t>(channels_.size() - 1);
    }
    return fallback_;
  }

  void mark_sent(std::uint32_t index, TimePoint now) {
    Slot& slot = slots_[index];
    slot.sent = now;
    slot.on_wire = true;
    ++result_.counters.sent;
    timeouts_.push_back(TimeoutEntry{index, slot.generation, now + options_.timeout});
    if (slot.paced_pending) {
      slot.paced_pending = false;
      pacer_->record_send(slot.lookup_intended, now);
    }
  }

  // The query could not be sent: its lookup fails.
  void fail_unsent(std::uint32_t index, TimePoint now, std::string why, bool holds_id) {
    Slot& slot = slots_[index];
    if (holds_id) {
      Channel& channel = *channels_[slot.channel];
      channel.slot_of_id[slot.id] = 0;
      channel.ids.release(slot.id);
      --channel.in_flight;
    }
    ++result_.counters.send_errors;
    live_.record_error(now);
    note_error(std::move(why));
    if (slot.paced_pending) {
      slot.paced_pending = false;
      pacer_->record_send(slot.lookup_intended, now);
    }
    finish_lookup(index, Outcome::failed, now);
  }

  void finish_lookup(std::uint32_t index, Outcome outcome, TimePoint end) {
    Slot& slot = slots_[index];
    if (workload_.walk) {
      result_.lookup_latency.record(end - slot.lookup_intended);
    }
    Counters& c = result_.counters;
    switch (outcome) {
      case Outcome::answered:
        ++c.lookups_answered;
        break;
      case Outcome::negative:
        ++c.lookups_negative;
        break;
      case Outcome::failed:
        ++c.lookups_failed;
        break;
      case Outcome::lost:
        ++c.lookups_lost;
        break;
    }
    slot.active = false;
    slot.on_wire = false;
    ++slot.generation;
    free_slots_.push_back(index);
    --active_;
  }

  void flush(TimePoint now) {
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      Channel& channel = *channels_[c];
      if (channel.protocol == Protocol::udp) {
        flush_udp(channel, now);
      } else {
        flush_tcp(static_cast<std::uint32_t>(c), now);
      }
    }
  }

  std::size_t wire_size(std::uint32_t slot) const { return query_of(slots_[slot]).wire.size(); }

  // Sends the queued queries in batches of up to kBatch: one sendmmsg per batch, and within it every run of
  // equal-sized datagrams as one message with UDP_SEGMENT (UDP GSO), so the kernel walks its stack once per
  // run instead of once per datagram; the server still receives one ordinary datagram per query. Where GSO is
  // refused (an old kernel, a device without it) each datagram is its own message.
  void flush_udp(Channel& channel, TimePoint now) {
    std::size_t done = 0;
    bool retried_refusal = false;
    while (done < channel.pending.size()) {
      const std::size_t n = std::min(kBatch, channel.pending.size() - done);
      const auto first = channel.pending.begin() + static_cast<std::ptrdiff_t>(done);
      if (gso_) {
        std::stable_sort(first, first + static_cast<std::ptrdiff_t>(n),
                         [this](std::uint32_t a, std::uint32_t b) { return wire_size(a) < wire_size(b); });
      }
      std::size_t messages = 0;
      for (std::size_t k = 0; k < n;) {
        const std::size_t size = wire_size(channel.pending[done + k]);
        std::size_t run = 1;
        while (gso_ && k + run < n && run < kMaxGsoSegments &&
               wire_size(channel.pending[done + k + run]) == size) {
          ++run;
        }
        for (std::size_t j = k; j < k + run; ++j) {
          Slot& slot = slots_[channel.pending[done + j]];
          const PreparedQuery& query = query_of(slot);
          send_iov_[2 * j] = iovec{slot.id_wire.data(), 2};
          send_iov_[2 * j + 1] =
              iovec{const_cast<std::uint8_t*>(query.wire.data()) + 2, query.wire.size() - 2};
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
            mark_sent(channel.pending[done++], now);
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
        ++result_.counters.refused_icmp;
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
        fail_unsent(channel.pending[done++], now,
                    fmt::format("send to {}: {}", options_.server.text, errno_text(error)), true);
      }
      retried_refusal = false;
    }
    channel.pending.erase(channel.pending.begin(),
                          channel.pending.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void flush_tcp(std::uint32_t index, TimePoint now) {
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
        return;  // POLLOUT resumes it
      }
      fail_channel(index, now, fmt::format("TCP send to {}: {}", options_.server.text, errno_text(errno)));
      return;
    }
    channel.out.clear();
    channel.out_offset = 0;
  }

  // A TCP connection failed or closed: its queries in flight fail (an answer can no longer come), and the
  // connection is opened again for later queries after a short backoff.
  void fail_channel(std::uint32_t index, TimePoint now, std::string why) {
    Channel& channel = *channels_[index];
    note_error(why);
    for (std::size_t id = 0; id < IdPool::kIds; ++id) {
      const std::uint32_t slot_plus_one = channel.slot_of_id[id];
      if (slot_plus_one == 0) {
        continue;
      }
      channel.slot_of_id[id] = 0;
      ++result_.counters.connection_lost;
      live_.record_error(now);
      finish_lookup(slot_plus_one - 1, Outcome::failed, now);
    }
    channel.ids = IdPool(static_cast<std::uint16_t>(now.time_since_epoch().count() & 0xffff));
    channel.in_flight = 0;
    channel.out.clear();
    channel.out_offset = 0;
    channel.in.clear();
    channel.fd.reset();  // closing also removes it from the epoll set
    channel.registered = false;
    channel.connecting = false;
    channel.broken = true;
    channel.retry_at = now + kReconnectBackoff;
  }

  void expire(TimePoint now) {
    for (auto& channel : channels_) {
      channel->ids.release_expired(now);
    }
    while (!timeouts_.empty() && timeouts_.front().deadline <= now) {
      const TimeoutEntry entry = timeouts_.front();
      timeouts_.pop_front();
      Slot& slot = slots_[entry.slot];
      if (!slot.active || !slot.on_wire || slot.generation != entry.generation) {
        continue;  // answered, moved on in its walk, or retried over TCP since
      }
      Channel& channel = *channels_[slot.channel];
      channel.slot_of_id[slot.id] = 0;
      --channel.in_flight;
      // Its answer may still come: keep the ID out of use for another timeout.
      channel.ids.quarantine(slot.id, now + options_.timeout);
      ++result_.counters.lost;
      result_.query_latency.corrected.record(entry.deadline - slot.query_intended);
      live_.record_error(now);
      finish_lookup(entry.slot, Outcome::lost, entry.deadline);
    }
  }

  void receive(std::uint32_t index, TimePoint now) {
    Channel& channel = *channels_[index];
    if (channel.protocol == Protocol::udp) {
      receive_udp(index);
    } else {
      receive_tcp(index, now);
    }
  }

  void receive_udp(std::uint32_t index) {
    Channel& channel = *channels_[index];
    while (true) {
      const int got = ::recvmmsg(channel.fd.get(), receive_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == ECONNREFUSED) {
          ++result_.counters.refused_icmp;
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          note_error(fmt::format("receive from {}: {}", options_.server.text, errno_text(errno)));
        }
        return;
      }
      // One timestamp per batch: every datagram in it was already waiting in the socket at this moment.
      const TimePoint now = clock_.now();
      for (int k = 0; k < got; ++k) {
        const mmsghdr& message = receive_msgs_[static_cast<std::size_t>(k)];
        if ((message.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
          ++result_.counters.malformed;  // larger than any answer we asked for
          continue;
        }
        handle(index,
               std::span<const std::uint8_t>(
                   static_cast<const std::uint8_t*>(message.msg_hdr.msg_iov->iov_base), message.msg_len),
               now);
      }
      if (static_cast<std::size_t>(got) < kBatch) {
        return;
      }
    }
  }

  void receive_tcp(std::uint32_t index, TimePoint now) {
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
      // Answers that arrived before the close still count.
      parse_frames(index, clock_.now());
      fail_channel(index, now,
                   got == 0
                       ? fmt::format("TCP connection to {} closed by the server", options_.server.text)
                       : fmt::format("TCP receive from {}: {}", options_.server.text, errno_text(errno)));
      return;
    }
    parse_frames(index, clock_.now());
  }

  void parse_frames(std::uint32_t index, TimePoint now) {
    Channel& channel = *channels_[index];
    std::size_t at = 0;
    while (channel.in.size() - at >= 2) {
      const std::size_t length = read_u16(channel.in.data() + at);
      if (channel.in.size() - at - 2 < length) {
        break;
      }
      handle(index, std::span<const std::uint8_t>(channel.in.data() + at + 2, length), now);
      at += 2 + length;
    }
    channel.in.erase(channel.in.begin(), channel.in.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void finish_connect(std::uint32_t index, TimePoint now) {
    Channel& channel = *channels_[index];
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(channel.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error != 0) {
      fail_channel(index, now, fmt::format("TCP connect to {}: {}", options_.server.text, errno_text(error)));
      return;
    }
    channel.connecting = false;
  }

  // One datagram or TCP message from the server.
  void handle(std::uint32_t channel_index, std::span<const std::uint8_t> bytes, TimePoint now) {
    Counters& c = result_.counters;
    if (bytes.size() < kHeaderSize) {
      ++c.malformed;
      return;
    }
    Channel& channel = *channels_[channel_index];
    const std::uint16_t id = read_u16(bytes.data());
    const std::uint32_t slot_plus_one = channel.slot_of_id[id];
    if (slot_plus_one == 0) {
      ++c.unexpected_id;
      return;
    }
    const std::uint32_t index = slot_plus_one - 1;
    Slot& slot = slots_[index];
    if (!slot.on_wire) {
      ++c.unexpected_id;  // an answer before we sent: a stray that happens to carry a reserved ID
      return;
    }
    const Check check = check_response(bytes, query_of(slot));
    if (check != Check::ok) {
      // Not the answer to this query: keep waiting for it (until its timeout).
      ++(check == Check::too_short ? c.malformed : c.mismatched);
      return;
    }
    const bool truncated = (bytes[2] & 0x02) != 0;
    const auto rcode_value = static_cast<std::uint8_t>(bytes[3] & 0x0f);
    const std::uint16_t answers = read_u16(bytes.data() + 6);
    channel.slot_of_id[id] = 0;
    --channel.in_flight;
    channel.ids.release(id);
    last_response_ = now;
    got_response_ = true;
    if (truncated) {
      ++c.truncated;
      if (channel.protocol == Protocol::udp && options_.tcp_on_truncation) {
        ++c.tcp_retries;
        queue_query(index, now, true);
        return;
      }
    }
    ++c.responses;
    ++c.rcodes[rcode_value];
    if (rcode_value == rcode::noerror && answers == 0) {
      ++c.nodata;
    }
    result_.query_latency.record(slot.query_intended, slot.sent, now);
    live_.record(now, now - slot.query_intended);
    if (workload_.walk && walk_continues(rcode_value, answers) &&
        slot.step + 1u < workload_.lookups[slot.lookup].size()) {
      if (rcode_value == rcode::nxdomain) {
        ++c.walk_nxdomain;
      }
      ++c.walk_steps;
      ++slot.step;
      slot.query_intended = now;  // the resolver asks the next name as soon as it has this answer
      queue_query(index, now, false);
      return;
    }
    Outcome outcome = Outcome::failed;
    if (rcode_value == rcode::noerror) {
      outcome = answers > 0 ? Outcome::answered : Outcome::negative;
    } else if (rcode_value == rcode::nxdomain) {
      outcome = Outcome::negative;
    }
    finish_lookup(index, outcome, now);
  }

  void stop_sending(TimePoint at) {
    if (send_stopped_) {
      return;
    }
    send_stopped_ = true;
    send_stop_ = at;
    if (!pacer_ || result_.cancelled || shared_.stop.load(std::memory_order_acquire)) {
      return;
    }
    // Lookups that were due before the stop but never went out: the schedule fell behind.
    const std::uint64_t cap = share_.total ? *share_.total : std::numeric_limits<std::uint64_t>::max();
    while (next_intended_ < at && result_.counters.lookups_started + result_.unsent_due < cap) {
      ++result_.unsent_due;
      next_intended_ = pacer_->next();
    }
  }

  void check_failure_window(TimePoint now) {
    const Counters& c = result_.counters;
    if (c.lost + c.send_errors + c.connection_lost == 0) {
      return;
    }
    const TimePoint last = start_ + Duration(shared_.last_response_ns.load(std::memory_order_relaxed));
    const TimePoint reference = std::max(last, last_response_);
    if (now - reference > options_.failure_window) {
      shared_.request_stop(fmt::format(
          "no response from {} for {} ({} queries lost, {} not sent{}{})", options_.server.text,
          format_duration(options_.failure_window), c.lost, c.send_errors,
          c.refused_icmp > 0 ? fmt::format(", {} ICMP port unreachable", c.refused_icmp) : std::string(),
          result_.first_error.empty() ? std::string() : "; " + result_.first_error));
    }
  }

  void report_progress(TimePoint now) {
    if (got_response_) {
      got_response_ = false;
      const std::int64_t since = (last_response_ - start_).count();
      std::int64_t previous = shared_.last_response_ns.load(std::memory_order_relaxed);
      while (since > previous &&
             !shared_.last_response_ns.compare_exchange_weak(previous, since, std::memory_order_relaxed)) {
      }
    }
    if (!progress_) {
      return;
    }
    const Counters& c = result_.counters;
    shared_.sent.fetch_add(c.sent - reported_.sent, std::memory_order_relaxed);
    shared_.answered.fetch_add(c.answered() - reported_.answered(), std::memory_order_relaxed);
    shared_.lost.fetch_add(c.lost - reported_.lost, std::memory_order_relaxed);
    reported_.sent = c.sent;
    reported_.rcodes = c.rcodes;
    reported_.lost = c.lost;
    if (share_.index != 0 || now < next_progress_) {
      return;
    }
    next_progress_ += progress_interval_;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const std::uint64_t answered = shared_.answered.load(std::memory_order_relaxed);
    progress_(fmt::format("{:.0f}s: {} sent, {} answered ({:.0f}/s), {} lost", seconds,
                          shared_.sent.load(std::memory_order_relaxed), answered,
                          seconds > 0 ? double(answered) / seconds : 0.0,
                          shared_.lost.load(std::memory_order_relaxed)));
  }

  TimePoint next_wake(TimePoint now, bool sending) const {
    TimePoint wake = now + kMaxWait;
    if (sending) {
      wake = std::min(wake, send_end_);
      if (pacer_ && !free_slots_.empty()) {
        wake = std::min(wake, next_intended_);
      }
    }
    if (!timeouts_.empty()) {
      wake = std::min(wake, timeouts_.front().deadline);
    }
    return wake;
  }

  void wait(TimePoint now, TimePoint wake) {
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      Channel& channel = *channels_[c];
      if (!channel.fd.valid()) {
        continue;
      }
      std::uint32_t events = EPOLLIN;
      if ((channel.protocol == Protocol::tcp &&
           (channel.connecting || channel.out_offset < channel.out.size())) ||
          (channel.protocol == Protocol::udp && !channel.pending.empty())) {
        events |= EPOLLOUT;
      }
      if (channel.registered && channel.registered_events == events) {
        continue;
      }
      epoll_event event{};
      event.events = events;
      event.data.u32 = static_cast<std::uint32_t>(c);
      if (::epoll_ctl(epoll_.get(), channel.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, channel.fd.get(),
                      &event) == 0) {
        channel.registered = true;
        channel.registered_events = events;
      }
    }
    const timespec timeout = to_timespec(wake - now);
    const int ready =
        ::epoll_pwait2(epoll_.get(), events_.data(), static_cast<int>(events_.size()), &timeout, nullptr);
    if (ready <= 0) {
      return;
    }
    const TimePoint after = clock_.now();
    for (int k = 0; k < ready; ++k) {
      const std::uint32_t revents = events_[static_cast<std::size_t>(k)].events;
      const std::uint32_t index = events_[static_cast<std::size_t>(k)].data.u32;
      Channel& channel = *channels_[index];
      if (!channel.fd.valid()) {
        continue;  // failed earlier in this loop
      }
      if (channel.protocol == Protocol::tcp && channel.connecting &&
          (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        finish_connect(index, after);
        if (channel.broken) {
          continue;
        }
      }
      if ((revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        receive(index, after);
      }
    }
  }

  void finish() {
    LoadResult& r = result_;
    if (!send_stopped_) {
      stop_sending(clock_.now());
    }
    r.counters.lookups_abandoned = active_;
    r.send_elapsed = send_stop_ - start_;
    r.elapsed = std::max(send_stop_, last_response_) - start_;
    if (pacer_) {
      r.pacer = pacer_->stats();
    }
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) == 0) {
      r.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                      double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    }
    channels_.clear();
  }

  const Workload& workload_;
  const LoadOptions& options_;
  WorkerShare share_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  Shared& shared_;
  const ProgressFn& progress_;
  Duration progress_interval_;
  LoadResult result_;
  Counters reported_;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint32_t active_ = 0;
  std::deque<TimeoutEntry> timeouts_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::size_t primary_channels_ = 0;
  std::size_t current_channel_ = 0;
  std::size_t current_uses_ = 0;
  std::optional<std::uint32_t> fallback_;
  std::size_t cursor_ = 0;
  LiveSeries live_;

  std::optional<Pacer> pacer_;
  TimePoint next_intended_{};
  TimePoint start_{};
  TimePoint send_end_{};
  TimePoint send_stop_{};
  bool send_stopped_ = false;
  TimePoint last_response_{};
  bool got_response_ = false;
  TimePoint next_progress_{};

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
  std::array<epoll_event, 64> events_{};
};

std::uint64_t share_of(std::uint64_t total, int parts, int index) {
  const auto n = static_cast<std::uint64_t>(parts);
  const auto i = static_cast<std::uint64_t>(index);
  return total / n + (i < total % n ? 1 : 0);
}

// Waits for a readable socket or the deadline; for query_once.
Result<void> wait_for(int fd, short events, TimePoint deadline, Clock& clock, std::string_view what) {
  while (true) {
    const Duration left = deadline - clock.now();
    if (left <= Duration::zero()) {
      return fail(ErrorKind::timeout, fmt::format("{}: no answer in time", what));
    }
    pollfd pfd{fd, events, 0};
    const timespec timeout = to_timespec(left);
    const int ready = ::ppoll(&pfd, 1, &timeout, nullptr);
    if (ready > 0) {
      return {};
    }
    if (ready < 0 && errno != EINTR) {
      return fail(ErrorKind::network, fmt::format("{}: poll: {}", what, errno_text(errno)));
    }
  }
}

Result<std::vector<std::uint8_t>> exchange_tcp(const ServerAddress& server, std::vector<std::uint8_t> packet,
                                               TimePoint deadline, Clock& clock) {
  const std::string what = fmt::format("TCP {}", server.text);
  Fd fd(::socket(server.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return fail(ErrorKind::network, fmt::format("{}: socket: {}", what, errno_text(errno)));
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 &&
      errno != EINPROGRESS) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, errno_text(errno)));
  }
  if (Result<void> ready = wait_for(fd.get(), POLLOUT, deadline, clock, what); !ready) {
    return std::unexpected(ready.error());
  }
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, errno_text(error)));
  }
  std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(packet.size() >> 8),
                                      static_cast<std::uint8_t>(packet.size() & 0xff)};
  framed.insert(framed.end(), packet.begin(), packet.end());
  std::size_t written = 0;
  while (written < framed.size()) {
    ssize_t n = ::send(fd.get(), framed.data() + written, framed.size() - written, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (Result<void> ready = wait_for(fd.get(), POLLOUT, deadline, clock, what); !ready) {
        return std::unexpected(ready.error());
      }
      continue;
    }
    if (n <= 0) {
      return fail(ErrorKind::network, fmt::format("{}: send: {}", what, errno_text(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  std::vector<std::uint8_t> in;
  while (true) {
    if (in.size() >= 2 && in.size() - 2 >= read_u16(in.data())) {
      return std::vector<std::uint8_t>(in.begin() + 2, in.begin() + 2 + read_u16(in.data()));
    }
    if (Result<void> ready = wait_for(fd.get(), POLLIN, deadline, clock, what); !ready) {
      return std::unexpected(ready.error());
    }
    std::array<std::uint8_t, 4096> chunk{};
    ssize_t n = ::recv(fd.get(), chunk.data(), chunk.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      return fail(ErrorKind::network, fmt::format("{}: connection closed before the answer", what));
    }
    in.insert(in.end(), chunk.begin(), chunk.begin() + n);
  }
}

}  // namespace

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::udp ? "udp" : "tcp";
}

Result<ServerAddress> parse_server(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::input, fmt::format("server \"{}\": {}", text, why));
  };
  std::string host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return bad("expected ':port' after ']'");
      }
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    std::size_t colon = text.find(':');
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  } else {
    host = std::string(text);  // IPv4 without port, or a bare IPv6 address
  }
  unsigned port = 53;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return bad("port must be 1..65535");
    }
  }
  ServerAddress server;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&server.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&server.address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    server.length = sizeof(sockaddr_in);
    server.text = fmt::format("{}:{}", host, port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    server.length = sizeof(sockaddr_in6);
    server.text = fmt::format("[{}]:{}", host, port);
  } else {
    return bad("not an IP address (a DNS server is given by address, e.g. 10.96.0.10 or 127.0.0.1:5353)");
  }
  return server;
}

Result<Workload> build_workload(const std::vector<QuerySpec>& specs,
                                const std::optional<ResolverConfig>& resolver, const QueryOptions& options) {
  Workload workload;
  workload.walk = resolver.has_value();
  std::unordered_map<std::string, std::uint32_t> known;
  for (const QuerySpec& spec : specs) {
    std::vector<std::string> names =
        resolver ? search_candidates(spec.name, *resolver) : std::vector{spec.name};
    std::vector<std::uint32_t> lookup;
    for (const std::string& name : names) {
      std::string key = name;
      std::transform(key.begin(), key.end(), key.begin(),
                     [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; });
      if (key.size() > 1 && key.ends_with('.')) {
        key.pop_back();
      }
      key += fmt::format("/{}", spec.type);
      auto [it, inserted] = known.try_emplace(key, static_cast<std::uint32_t>(workload.queries.size()));
      if (inserted) {
        Result<PreparedQuery> query = prepare_query(name, spec.type, options);
        if (!query) {
          return std::unexpected(query.error());
        }
        workload.queries.push_back(std::move(*query));
      }
      lookup.push_back(it->second);
    }
    if (lookup.empty()) {
      return fail(ErrorKind::input, fmt::format("query \"{}\": nothing to ask", spec.name));
    }
    workload.lookups.push_back(std::move(lookup));
  }
  if (workload.lookups.empty()) {
    return fail(ErrorKind::input, "no queries");
  }
  return workload;
}

void Counters::merge(const Counters& o) {
  sent += o.sent;
  responses += o.responses;
  for (std::size_t i = 0; i < rcodes.size(); ++i) {
    rcodes[i] += o.rcodes[i];
  }
  nodata += o.nodata;
  lost += o.lost;
  connection_lost += o.connection_lost;
  send_errors += o.send_errors;
  refused_icmp += o.refused_icmp;
  truncated += o.truncated;
  tcp_retries += o.tcp_retries;
  unexpected_id += o.unexpected_id;
  mismatched += o.mismatched;
  malformed += o.malformed;
  id_exhausted += o.id_exhausted;
  window_full += o.window_full;
  lookups_started += o.lookups_started;
  lookups_answered += o.lookups_answered;
  lookups_negative += o.lookups_negative;
  lookups_failed += o.lookups_failed;
  lookups_lost += o.lookups_lost;
  lookups_abandoned += o.lookups_abandoned;
  walk_steps += o.walk_steps;
  walk_nxdomain += o.walk_nxdomain;
}

double LoadResult::answered_per_second() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? double(counters.answered()) / seconds : 0.0;
}

double LoadResult::responses_per_second() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? double(counters.responses) / seconds : 0.0;
}

double LoadResult::achieved_share() const {
  const std::uint64_t due = counters.lookups_started + unsent_due;
  return !rate || due == 0 ? 1.0 : double(counters.lookups_started) / double(due);
}

Result<LoadResult> run_load(const Workload& workload, const LoadOptions& options, Clock& clock,
                            engine::CancellationToken& cancel, const ProgressFn& progress,
                            Duration progress_interval) {
  if (workload.lookups.empty()) {
    return fail(ErrorKind::input, "no queries to send");
  }
  const int clients = std::max(1, options.clients);
  const int threads = std::clamp(options.threads, 1, clients);
  std::uint32_t window = options.outstanding;
  if (window == 0) {
    window = options.rate ? static_cast<std::uint32_t>(std::min(
                                1e6, std::ceil(options.rate->per_second *
                                               std::chrono::duration<double>(options.timeout).count() * 1.5) +
                                         64))
                          : kDefaultWindow;
  }
  window = std::max<std::uint32_t>(window, static_cast<std::uint32_t>(threads));

  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    WorkerShare share;
    share.index = i;
    share.clients = static_cast<int>(share_of(static_cast<std::uint64_t>(clients), threads, i));
    share.window = static_cast<std::uint32_t>(share_of(window, threads, i));
    if (options.rate) {
      share.rate = Rate{options.rate->per_second / threads};
    }
    if (options.total) {
      share.total = share_of(*options.total, threads, i);
    }
    share.first_lookup =
        workload.lookups.size() * static_cast<std::size_t>(i) / static_cast<std::size_t>(threads);
    auto worker = std::make_unique<Worker>(workload, options, share, clock, cancel, shared, progress,
                                           progress_interval);
    if (Result<void> opened = worker->open(); !opened) {
      return std::unexpected(opened.error());
    }
    workers.push_back(std::move(worker));
  }
  // A common start a little ahead, so every worker's schedule begins together rather than already behind.
  const TimePoint start = clock.now() + std::chrono::milliseconds(5);
  std::vector<std::thread> running;
  std::vector<std::string> crashes(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    running.emplace_back([&, i] {
      try {
        workers[i]->run(start);
      } catch (const std::exception& error) {
        crashes[i] = error.what();
        shared.request_stop(fmt::format("worker {} failed: {}", i, error.what()));
      }
    });
  }
  for (std::thread& thread : running) {
    thread.join();
  }
  LoadResult merged;
  merged.threads = threads;
  merged.clients = clients;
  merged.outstanding = window;
  merged.rate = options.rate;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    LoadResult& r = workers[i]->result();
    merged.counters.merge(r.counters);
    merged.query_latency.merge(r.query_latency);
    merged.lookup_latency.merge(r.lookup_latency);
    merged.pacer.merge(r.pacer);
    merged.unsent_due += r.unsent_due;
    merged.send_elapsed = std::max(merged.send_elapsed, r.send_elapsed);
    merged.elapsed = std::max(merged.elapsed, r.elapsed);
    merged.cancelled = merged.cancelled || r.cancelled;
    merged.cpu_seconds += r.cpu_seconds;
    if (merged.first_error.empty()) {
      merged.first_error = !crashes[i].empty() ? crashes[i] : r.first_error;
    }
    if (merged.receive_buffer == 0) {
      merged.receive_buffer = r.receive_buffer;
    }
  }
  {
    std::lock_guard lock(shared.mutex);
    merged.stopped_early = shared.stop_reason;
  }
  return merged;
}

Result<Message> query_once(const ServerAddress& server, const PreparedQuery& prepared, Protocol protocol,
                           Duration timeout, Clock& clock) {
  const TimePoint deadline = clock.now() + timeout;
  std::vector<std::uint8_t> packet = prepared.wire;
  const auto id = static_cast<std::uint16_t>((clock.now().time_since_epoch().count() >> 10) & 0xffff);
  set_id(packet, id);
  std::vector<std::uint8_t> answer;
  if (protocol == Protocol::udp) {
    const std::string what = fmt::format("UDP {}", server.text);
    Fd fd(::socket(server.address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 ||
        ::send(fd.get(), packet.data(), packet.size(), 0) < 0) {
      return fail(ErrorKind::network, fmt::format("{}: {}", what, errno_text(errno)));
    }
    std::array<std::uint8_t, 65535> buffer{};
    while (answer.empty()) {
      if (Result<void> ready = wait_for(fd.get(), POLLIN, deadline, clock, what); !ready) {
        return std::unexpected(ready.error());
      }
      const ssize_t got = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          continue;
        }
        return fail(ErrorKind::network, fmt::format("{}: {}", what, errno_text(errno)));
      }
      std::span<const std::uint8_t> bytes(buffer.data(), static_cast<std::size_t>(got));
      if (bytes.size() >= 2 && read_u16(bytes.data()) == id && check_response(bytes, prepared) == Check::ok) {
        answer.assign(bytes.begin(), bytes.end());
      }
    }
    if ((answer[2] & 0x02) == 0) {
      return parse_message(answer);
    }
  }
  Result<std::vector<std::uint8_t>> over_tcp = exchange_tcp(server, packet, deadline, clock);
  if (!over_tcp) {
    return std::unexpected(over_tcp.error());
  }
  if (over_tcp->size() < 2 || read_u16(over_tcp->data()) != id ||
      check_response(*over_tcp, prepared) != Check::ok) {
    return fail(ErrorKind::protocol, fmt::format("TCP {}: the answer does not match the query", server.text));
  }
  return parse_message(*over_tcp);
}

}  // namespace kp::drivers::dns
