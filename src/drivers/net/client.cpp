#include "drivers/net/client.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "drivers/net/client_control.hpp"
#include "drivers/net/client_run.hpp"
#include "drivers/net/protocol.hpp"
#include "drivers/net/socket.hpp"

// The client's control thread: the test's set-up on the control connection, the window's marks and
// per-second samples, and the result composed from what the workers (client_run.hpp) and the server counted.

namespace kp::drivers::net {
namespace {

using namespace detail;  // NOLINT: the client's own internals
using std::chrono::seconds;

constexpr Duration kReportTimeout = seconds(10);

double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Result<ClientResult> run_client(const ClientOptions& options, Clock& clock, engine::CancellationToken& cancel,
                                const ClientProgressFn& progress) {
  const TestSpec& spec = options.spec;
  if (Result<void> valid = validate(spec, FieldStyle::flag); !valid) {
    return std::unexpected(valid.error());
  }
  Result<SocketAddress> server = resolve(options.server);
  if (!server) {
    return std::unexpected(with_context(server.error(), "--server: "));
  }
  Result<Fd> control_fd = connect_tcp(*server, options.connect_timeout);
  if (!control_fd) {
    return std::unexpected(control_fd.error());
  }
  set_nodelay(control_fd->get());
  Control control(std::move(*control_fd), clock);
  if (!control.send(HelloMessage{spec})) {
    return fail(ErrorKind::network, fmt::format("{}: the server closed the connection", options.server));
  }
  Result<ControlMessage> reply = control.read(clock.now() + options.connect_timeout + seconds(5));
  if (!reply) {
    return fail(reply.error().kind, fmt::format("{}: {}", options.server, reply.error().message));
  }
  if (const auto* refused = std::get_if<ErrorMessage>(&*reply)) {
    return fail(ErrorKind::protocol,
                fmt::format("{}: the server refused the test: {}", options.server, refused->message));
  }
  const auto* ready = std::get_if<ReadyMessage>(&*reply);
  if (ready == nullptr) {
    return fail(ErrorKind::protocol,
                fmt::format("{}: expected \"ready\", got \"{}\"", options.server, type_name(*reply)));
  }
  const std::uint64_t session = ready->session;
  const auto token = static_cast<std::uint32_t>(session);

  RunState run(clock);
  run.total = spec.total;
  run.wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::vector<std::unique_ptr<Worker>> workers;
  // The window's times are known before any worker starts; set them after the data side is open.
  for (int i = 0; i < spec.streams; ++i) {
    workers.push_back(std::make_unique<Worker>(i, TimePoint{}));
  }
  if (Result<void> opened = open_data(workers, options, *server, session); !opened) {
    return std::unexpected(opened.error());
  }
  run.start = clock.now();
  run.measure_start = run.start + spec.warmup;
  run.measure_end = run.measure_start + spec.duration;
  for (auto& worker : workers) {
    worker->series = Recorder(run.measure_start);
    if (!is_stream(spec.scenario)) {
      worker->live = LiveSeries(options.live, Phase::network, "transactions");
    }
    if (spec.rate) {
      const Rate per_stream{spec.rate->per_second / spec.streams};
      worker->pacer.emplace(per_stream, spec.arrival, run.start,
                            1 + static_cast<std::uint64_t>(worker->index));
    } else if (spec.bandwidth) {
      const double packets =
          spec.bandwidth->bits_per_second / (8.0 * double(spec.message_size)) / spec.streams;
      worker->pacer.emplace(Rate{packets}, spec.arrival, run.start,
                            1 + static_cast<std::uint64_t>(worker->index));
    }
  }
  auto body = [&run, &spec, &server, session, token](Worker& w) {
    if (w.pacer) {
      use_precise_timers_on_this_thread();
    }
    switch (spec.scenario) {
      case Scenario::tcp_stream:
        tcp_stream_worker(run, w, spec);
        break;
      case Scenario::udp_stream:
        udp_stream_worker(run, w, spec, token);
        break;
      case Scenario::tcp_rr:
        tcp_rr_worker(run, w, spec);
        break;
      case Scenario::udp_rr:
        udp_rr_worker(run, w, spec, token);
        break;
      case Scenario::tcp_crr:
        tcp_crr_worker(run, w, spec, *server, session);
        break;
    }
    close_account(run, w);
  };
  // The pool blocks until its workers are joined, so it runs on a thread of its own beside this one, which
  // is the control thread.
  Result<void> pool_result;
  std::thread pool;
  try {
    pool = std::thread([&] { pool_result = run_stream_workers(run, workers, body); });
  } catch (const std::system_error& error) {
    return fail(ErrorKind::internal, fmt::format("cannot start the stream workers: {}", error.what()));
  }

  // The control thread: marks, per-second samples, and watching for the server's death.
  std::string failure;
  bool cancelled = false;
  // Waits until `deadline` unless something ends the test first; a partial control line is not an end.
  auto wait_through = [&](TimePoint deadline) {
    while (true) {
      const Wake wake = wait_for(control, run, cancel, deadline);
      if (wake == Wake::control) {
        failure = control_failure(control);
        if (failure.empty() && control.alive()) {
          continue;
        }
      }
      cancelled = cancelled || wake == Wake::cancelled;
      return wake;
    }
  };
  const bool window_started = wait_through(run.measure_start) == Wake::time;
  CpuTimes cpu_start;
  std::vector<double> per_second;
  if (window_started) {
    control.send(MarkMessage{MarkName::measure_start});
    cpu_start = process_cpu_times();
    for (auto& worker : workers) {
      if (worker->fd.valid() && !is_udp(spec.scenario)) {
        worker->at_start = read_tcp_counters(worker->fd.get());
      }
    }
    auto sample = [&] {
      std::uint64_t value = 0;
      for (const auto& worker : workers) {
        value += is_stream(spec.scenario) ? worker->window_bytes.load() : worker->window_items.load();
      }
      return value;
    };
    std::uint64_t previous = sample();
    TimePoint previous_at = run.measure_start;
    TimePoint next_tick = run.measure_start + seconds(1);
    while (wait_through(std::min(next_tick, run.measure_end)) == Wake::time) {
      const TimePoint now = clock.now();
      if (now >= next_tick) {
        const std::uint64_t value = sample();
        const double elapsed = to_seconds(now - previous_at);
        const double per = elapsed > 0 ? double(value - previous) / elapsed : 0;
        per_second.push_back(is_stream(spec.scenario) ? per * 8 : per);
        if (options.live != nullptr && is_stream(spec.scenario)) {
          LiveDelta moved;
          moved.phase = Phase::network;
          moved.series = "bytes";
          moved.bytes = value - previous;
          options.live->add(moved);
        }
        if (progress) {
          progress(ProgressSample{static_cast<int>(per_second.size()), is_stream(spec.scenario) ? per * 8 : 0,
                                  is_stream(spec.scenario) ? 0 : per});
        }
        previous = value;
        previous_at = now;
        next_tick += seconds(1);
      }
      if (now >= run.measure_end) {
        break;
      }
    }
  }
  TimePoint window_end = std::min(clock.now(), run.measure_end);
  if (const std::int64_t reached = run.total_reached_at.load(); reached != 0) {
    window_end = std::min(window_end, TimePoint(TimePoint::duration(reached)));
  }
  if (window_started && control.alive()) {
    control.send(MarkMessage{MarkName::measure_end});
  }
  const CpuTimes cpu_end = process_cpu_times();
  for (auto& worker : workers) {
    if (worker->fd.valid() && !is_udp(spec.scenario)) {
      worker->at_end = read_tcp_counters(worker->fd.get());
    }
  }
  std::string worker_error;
  worker_error = run.error();
  if (!worker_error.empty() && failure.empty() && control.alive() &&
      wait_readable(control.fd(), std::chrono::milliseconds(100))) {
    // A broken data connection often means the server stopped the test: its own words explain it better.
    failure = control_failure(control);
  }
  const bool broken = !failure.empty() || !worker_error.empty();
  run.stop.store(true);
  if (broken) {
    // The server is gone: wake every blocked call now. (A cancellation lets each worker finish the
    // transaction in flight, bounded by the response timeout, so both ends' counts still agree.)
    run.closing.store(true);
    for (auto& worker : workers) {
      if (worker->fd.valid()) {
        ::shutdown(worker->fd.get(), SHUT_RDWR);
      }
    }
  }
  pool.join();
  for (auto& worker : workers) {
    worker->live.flush();  // the window's last partial second, before the result line
  }
  if (!pool_result) {
    // A worker threw: nothing it counted can be trusted. The server sees the control connection close.
    return std::unexpected(with_context(pool_result.error(), "net-client: "));
  }
  worker_error = run.error();

  ClientResult result;
  result.spec = spec;
  result.server = options.server;
  result.server_hold = ready->hold;
  result.measured =
      window_started && window_end > run.measure_start ? window_end - run.measure_start : Duration{0};
  if (!broken && !is_udp(spec.scenario) && spec.scenario != Scenario::tcp_crr) {
    drain(workers, clock);
  }
  if (control.alive() && failure.empty()) {
    control.send(DoneMessage{});
    Result<ControlMessage> answer = control.read(clock.now() + kReportTimeout);
    if (!answer) {
      failure = answer.error().message;
    } else if (const auto* report = std::get_if<ResultMessage>(&*answer)) {
      result.server_report = report->report;
    } else if (const auto* error = std::get_if<ErrorMessage>(&*answer)) {
      failure = error->message;
    } else {
      failure = fmt::format("expected the server's \"result\", got \"{}\"", type_name(*answer));
    }
  }

  // Compose. Everything below is arithmetic over what the workers and the server counted.
  const double window_s = to_seconds(result.measured);
  std::uint64_t window_bytes = 0;
  std::uint64_t acked = 0;
  for (auto& worker : workers) {
    result.bytes_sent += worker->bytes.load();
    window_bytes += worker->window_bytes.load();
    result.transactions_total += worker->transactions_total;
    result.timeouts += worker->timeouts;
    result.latency.merge(worker->latency);
    if (worker->pacer) {
      if (!result.pacer) {
        result.pacer = PacerStats{};
      }
      result.pacer->merge(worker->pacer->stats());
      if (!result.sends) {
        result.sends = SendAccount{};
      }
      result.sends->merge(worker->account);
    }
    if (!is_udp(spec.scenario) && worker->fd.valid()) {
      result.retransmits +=
          worker->at_end.retransmits - std::min(worker->at_end.retransmits, worker->at_start.retransmits);
      acked +=
          worker->at_end.bytes_acked - std::min(worker->at_end.bytes_acked, worker->at_start.bytes_acked);
    }
  }
  if (!is_stream(spec.scenario)) {
    Recorder merged(run.measure_start);
    for (auto& worker : workers) {
      merged.merge(worker->series);
      result.transactions += worker->window_items.load();
    }
    result.latency_series = merged.series("rtt");
    result.transaction_rate = window_s > 0 ? double(result.transactions) / window_s : 0;
    result.per_second_tps = per_second;
  }
  if (spec.scenario == Scenario::tcp_stream) {
    result.sender_bps = window_s > 0 ? double(acked) * 8 / window_s : 0;
    result.per_second_bps = per_second;
    if (result.server_report && result.server_report->window > Duration::zero()) {
      result.throughput_bps =
          double(result.server_report->window_bytes_received) * 8 / to_seconds(result.server_report->window);
      result.throughput_source = "receiver";
    } else if (window_s > 0) {
      result.throughput_bps = result.sender_bps;
      result.throughput_source = "sender (acked)";
    }
  }
  if (spec.scenario == Scenario::udp_stream) {
    result.sender_bps = window_s > 0 ? double(window_bytes) * 8 / window_s : 0;
    for (auto& worker : workers) {
      result.datagrams_sent += worker->window_items.load();
    }
    result.per_second_bps = per_second;
    if (result.server_report) {
      result.datagrams_received = result.server_report->window_packets_received;
      result.throughput_bps =
          window_s > 0 ? double(result.server_report->window_bytes_received) * 8 / window_s : 0;
      result.throughput_source = "receiver";
      result.per_second_bps.clear();
      for (std::uint64_t bytes : result.server_report->per_second_bytes) {
        result.per_second_bps.push_back(double(bytes) * 8);
      }
      result.loss_ratio =
          result.datagrams_sent > 0
              ? std::max(0.0, 1.0 - double(result.datagrams_received) / double(result.datagrams_sent))
              : 0.0;
    }
  }
  result.client_cpu =
      CpuUse{cpu_end.user - cpu_start.user, cpu_end.system - cpu_start.system, result.measured};
  if (!window_started) {
    result.client_cpu = CpuUse{};
  }
  if (result.server_report) {
    result.server_cpu = CpuUse{result.server_report->cpu_user, result.server_report->cpu_system,
                               result.server_report->window};
  }

  const std::string when = window_started
                               ? fmt::format("{} into the {} window", format_duration(result.measured),
                                             format_duration(spec.duration))
                               : std::string("during the warm-up");
  if (!failure.empty()) {
    result.error = fmt::format("{} ({})", failure, when);
  } else if (!worker_error.empty()) {
    result.error = fmt::format("{} ({})", worker_error, when);
  } else if (std::string silent = spec.scenario == Scenario::udp_rr ? unanswered_streams(workers) : "";
             !silent.empty()) {
    result.error = fmt::format("{} ({})", silent, when);
  } else if (cancelled) {
    result.cancelled = true;
    result.error = fmt::format("cancelled ({})", when);
  } else if (!result.server_report) {
    result.error = "the server's report is missing";
  }
  result.complete = result.error.empty();
  return result;
}

}  // namespace kp::drivers::net
