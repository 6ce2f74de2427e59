#pragma once

// One worker of the etcd load engine (workload.hpp): the schedule (its pacer, or closed loop), the in-flight
// table of its client slots, and its results. It issues calls only through its KvTransport, so a unit test
// drives it with a FakeClock.
//
// Open loop, who owns a late send: a send due while every slot is busy waits for the server (the corrected
// latency counts that wait, from the intended time); it is counted as queued_for_server, and its lateness is
// not the generator's. Only sends that found a free slot and still went out late are own lateness.

#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "drivers/etcd/keys.hpp"
#include "drivers/etcd/workload.hpp"

namespace kp::drivers::etcd {

struct WorkerResult {
  OperationStats put;
  OperationStats range;
  PacerStats pacer;
  SendAccount sends;
  TimePoint last_completion{};
  std::uint64_t issued = 0;
  bool cancelled = false;
  std::string stopped_early;
  std::string first_error;
};

class Worker {
 public:
  // `slots`: this worker's clients; `quota`: its share of the stage's total; `stop`: another worker failed.
  Worker(int index, int workers, std::size_t slots, const Stage& stage, const EngineOptions& options,
         std::uint64_t quota, KvTransport& transport, Clock& clock, engine::CancellationToken& cancel,
         std::function<bool()> stop);

  // Runs the stage from `start` (the first intended send) and returns what it measured.
  WorkerResult run(TimePoint start);

 private:
  bool should_stop(TimePoint now);
  void run_open_loop();
  void run_closed_loop();
  void send(TimePoint intended, TimePoint now);
  bool poll(Duration wait);
  void complete(const Completion& completion);
  void drain();

  struct Slot {
    bool is_range = false;
    bool busy = false;
    TimePoint intended{};
    TimePoint sent{};
  };

  int index_;
  int workers_;
  const Stage& stage_;
  const EngineOptions& options_;
  std::uint64_t quota_;
  KvTransport& transport_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  std::function<bool()> stop_;
  KeyGenerator keys_;
  std::mt19937_64 random_;
  LiveSeries live_put_;
  LiveSeries live_range_;
  TimePoint start_{};
  TimePoint end_{};
  std::optional<Pacer> pacer_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> idle_;
  std::size_t in_flight_ = 0;
  // The last time a completion freed a slot while every slot was busy: a send due before it waited for one.
  TimePoint slot_freed_{};
  bool quota_reached_ = false;
  TimePoint last_success_{};
  std::uint64_t errors_since_success_ = 0;
  WorkerResult result_;
};

}  // namespace kp::drivers::etcd
