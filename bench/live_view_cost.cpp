// What the live terminal view (cli/live_view.hpp) costs a run: it draws on a real pseudo-terminal for
// SECONDS (default 20) while 8 "worker" threads hand over counts once a second each, as load generators do,
// and the process's CPU time (getrusage: every thread, the view's included) is divided by the wall time.
// The feeding threads sleep between hand-overs and a reader drains the terminal, so nearly all of what is
// measured is the view's redraw. Goal (issue 17): under 1 % of a core.
//   ninja -C build live_view_cost && build/bench/live_view_cost [SECONDS]

#include <fcntl.h>
#include <pty.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/live_view.hpp"
#include "core/clock.hpp"
#include "core/offered_sink.hpp"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
  int master = -1;
  int slave = -1;
  winsize size{};
  size.ws_col = 160;
  size.ws_row = 50;
  if (openpty(&master, &slave, nullptr, nullptr, &size) != 0) {
    std::perror("openpty");
    return 1;
  }
  std::FILE* terminal = fdopen(slave, "w");
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> drained{0};
  std::thread reader([&] {
    char buffer[65536];
    while (!done.load()) {
      const ssize_t got = read(master, buffer, sizeof buffer);
      if (got <= 0) {
        break;
      }
      drained += static_cast<std::uint64_t>(got);
    }
  });

  kp::Clock& clock = kp::real_clock();
  const double cpu_before = cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  {
    kp::cli::LiveView view(terminal, clock, {{kp::Phase::dns, std::chrono::seconds(seconds)}});
    view.phase_started(kp::Phase::dns, clock.wall_now());
    kp::announce_offered(view.live_sink(), kp::Phase::dns, 10000.0);
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&, w] {
        kp::LiveDelta delta;
        delta.phase = kp::Phase::dns;
        delta.series = "query";
        delta.ok = 1250;
        delta.buckets[static_cast<std::size_t>(3 + w % 4)] = 1250;
        const auto start = std::chrono::steady_clock::now();
        for (int s = 1; s <= seconds; ++s) {
          std::this_thread::sleep_until(start + std::chrono::seconds(s));  // one hand-over a second
          view.live_sink()->add(delta);
        }
      });
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
    view.stop();
  }
  const double cpu = cpu_seconds() - cpu_before;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  done = true;
  std::fclose(terminal);
  reader.join();
  close(master);
  fmt::print("live view on a pty: {:.3f} s CPU in {:.1f} s wall = {:.3f} % of a core ({} bytes drawn)\n", cpu,
             wall, 100.0 * cpu / wall, drained.load());
  return 0;
}
