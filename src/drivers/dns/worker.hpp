#pragma once

// One DNS load worker: the loop that starts lookups on schedule (send_schedule.hpp), tracks them in flight
// (in_flight.hpp), sends and receives through its Io (worker_io.hpp: the real sockets, or a test's server),
// walks a pod's search list, expires timeouts and counts everything into its own LoadResult. One per thread
// of load::run_workers; nothing is shared on the hot path but the read-only workload and the stop flags.
//
// A run ends at its duration or count, on cancellation (what was measured is kept), when another worker asks
// to stop (the pool, after a failure), or when no response has arrived for `failure_window` while queries
// were lost or refused (the server is gone). Queries still in flight when sending stops get their timeout,
// then count as lost.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/live.hpp"
#include "drivers/dns/in_flight.hpp"
#include "drivers/dns/load_engine.hpp"
#include "drivers/dns/send_schedule.hpp"
#include "drivers/dns/worker_io.hpp"

namespace kp::drivers::dns {

// What the workers share: the stop flag and, for progress, running totals.
struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> last_response_ns{0};  // since the start, by any worker
  std::mutex mutex;
  std::string stop_reason;  // guarded by mutex
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> lost{0};

  void request_stop(std::string reason);
};

// A worker's part of the load.
struct WorkerShare {
  int index = 0;
  int clients = 1;
  std::uint32_t window = 1;
  std::optional<Rate> rate;
  std::optional<std::uint64_t> total;
  std::size_t first_lookup = 0;
};

class Worker final : private IoEvents {
 public:
  Worker(const Workload& workload, const LoadOptions& options, WorkerShare share, Clock& clock,
         engine::CancellationToken& cancel, Shared& shared, std::unique_ptr<WorkerIo> io);

  // Opens the worker's channels. Errors: a UDP socket cannot be had.
  Result<void> open();
  // Runs from `start` (the first intended send) to the end; `pool_stop` says another worker failed.
  void run(TimePoint start, const std::function<bool()>& pool_stop);
  LoadResult take_result() { return std::move(result_); }

 private:
  enum class Outcome { answered, negative, failed, lost };

  const PreparedQuery& query_of(const Slot& slot) const;
  void note_error(std::string error);
  void advance_channel();
  bool send_due(TimePoint now);
  void start_lookup(TimePoint intended, bool queued, TimePoint now);
  void queue_query(std::uint32_t index, TimePoint now, bool over_tcp_fallback);
  std::optional<std::uint32_t> fallback_channel(TimePoint now);
  void mark_sent(std::uint32_t index, TimePoint now);
  void fail_unsent(std::uint32_t index, TimePoint now, std::string why, bool holds_id);
  void finish_lookup(std::uint32_t index, Outcome outcome, TimePoint end);
  void expire(TimePoint now);
  void stop_sending(TimePoint at);
  void check_failure_window(TimePoint now);
  void publish(TimePoint now);
  TimePoint next_wake(TimePoint now, bool sending) const;
  void finish();

  // IoEvents
  void sent(std::uint32_t slot, TimePoint now) override { mark_sent(slot, now); }
  void send_failed(std::uint32_t slot, TimePoint now, std::string why) override;
  void message(std::uint32_t channel, std::span<const std::uint8_t> bytes, TimePoint now) override;
  void channel_failed(std::uint32_t channel, TimePoint now, std::string why) override;
  void refused() override { ++result_.counters.refused_icmp; }
  void malformed() override { ++result_.counters.malformed; }
  void error(std::string why) override { note_error(std::move(why)); }

  const Workload& workload_;
  const LoadOptions& options_;
  WorkerShare share_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  Shared& shared_;
  std::unique_ptr<WorkerIo> io_;
  LoadResult result_;
  Counters reported_;

  InFlight in_flight_;
  std::vector<Protocol> channels_;  // each channel's protocol, by number
  std::size_t primary_channels_ = 0;
  std::size_t current_channel_ = 0;
  std::size_t current_uses_ = 0;
  std::optional<std::uint32_t> fallback_;
  std::size_t cursor_ = 0;
  LiveSeries live_;

  std::optional<SendSchedule> schedule_;
  TimePoint start_{};
  TimePoint send_end_{};
  TimePoint send_stop_{};
  bool send_stopped_ = false;
  TimePoint last_response_{};
  bool got_response_ = false;
};

}  // namespace kp::drivers::dns
