#include "drivers/ingress/driver.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "drivers/ingress/load.hpp"
#include "drivers/ingress/measurements.hpp"
#include "drivers/ingress/settings.hpp"
#include "lab/lab.hpp"
#include "lab/nginx_service.hpp"

namespace kp::drivers::ingress {
namespace {

class IngressDriver final : public engine::Driver {
 public:
  explicit IngressDriver(std::filesystem::path lab_dir) : lab_dir_(std::move(lab_dir)) {}

  Phase phase() const override { return Phase::ingress; }

  Result<void> validate(const engine::PhaseContext& context) override {
    std::string file = context.plan.source.string();
    std::string path =
        (context.phase.path.empty() ? std::string("ingress") : context.phase.path) + ".settings";
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    if (context.plan.target == config::Target::cluster && settings->url.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}: {}.url: required for --target cluster: the ingress URL to load, e.g. "
                              "https://shop.example.com/healthz (with host: for virtual-host routing)",
                              file, path));
    }
    settings_ = std::move(*settings);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    LoadSpec spec;
    std::string url = settings_.url;
    if (url.empty()) {
      // --target local: the lab's nginx. Not started -> unavailable -> the phase is SKIPPED with the reason.
      Result<std::map<std::string, std::string>> lab = lab::endpoints(lab_dir_, "nginx");
      if (!lab) {
        return std::unexpected(lab.error());
      }
      url = lab->at(settings_.lab_tls ? "tls_url" : "url");
      if (settings_.lab_tls && settings_.cacert.empty() && !settings_.insecure) {
        spec.tls.ca_file = lab::nginx_ca_file(lab_dir_ / "nginx").string();
        spec.tls.server_name = std::string(lab::kNginxTlsName);
      }
    }
    Result<Url> parsed = parse_url(url);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    spec.url = std::move(*parsed);
    spec.request.method = settings_.method;
    spec.request.paths = settings_.paths;
    spec.request.headers = settings_.headers;
    spec.request.body = settings_.body;
    spec.request.host = settings_.host;
    spec.tls.insecure = settings_.insecure;
    if (!settings_.cacert.empty()) {
      spec.tls.ca_file = settings_.cacert;
    }
    if (!settings_.server_name.empty()) {
      spec.tls.server_name = settings_.server_name;
    }
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    spec.threads = settings_.threads > 0 ? settings_.threads : static_cast<int>(std::max(1u, cores / 2));
    spec.connections = settings_.connections;
    spec.timeout = settings_.timeout;
    spec.arrival = settings_.arrival;

    const config::Capacity& capacity = context.plan.capacity;
    double load = context.phase.load;
    if (!settings_.closed_loop) {
      double base = kAssumedRps;
      if (settings_.rate) {
        spec.rate = settings_.rate;
      } else {
        if (capacity.ingress_rps) {
          base = capacity.ingress_rps->per_second;
        } else {
          notes_.push_back(
              fmt::format("the plan states no capacity.ingress_rps; assumed {:g}/s", kAssumedRps));
        }
        spec.rate = Rate{base * load};
      }
    }
    Duration total = context.phase.duration;
    spec.live = context.progress.live_sink();
    requests_ = spec;
    if (settings_.connection_run) {
      Duration share = std::chrono::duration_cast<Duration>(total * settings_.connection_share);
      requests_.duration = total - share;
      connections_ = spec;
      connections_->duration = share;
      connections_->connection_per_request = true;
      connections_->live_series = "connection";
      connections_->rate.reset();
      if (!settings_.connection_closed_loop) {
        double base = kAssumedConnectionRate;
        if (settings_.connection_rate) {
          connections_->rate = settings_.connection_rate;
        } else {
          if (capacity.ingress_connection_rate) {
            base = capacity.ingress_connection_rate->per_second;
          } else {
            notes_.push_back(
                fmt::format("the plan states no capacity.ingress_connection_rate; assumed {:g}/s",
                            kAssumedConnectionRate));
          }
          connections_->rate = Rate{base * load};
        }
      }
    } else {
      requests_.duration = total;
    }
    // One request proves the target answers (and that its certificate verifies) before the timed run.
    LoadSpec probe = spec;
    probe.rate.reset();
    probe.threads = 1;
    probe.connections = 1;
    probe.requests = 1;
    probe.duration = Duration::zero();
    probe.live = nullptr;  // not part of the measured run
    engine::CancellationToken never;
    Result<LoadResult> probed = run_load(probe, context.clock, never);
    if (!probed) {
      return std::unexpected(probed.error());
    }
    if (probed->responses == 0) {
      std::string why = probed->error_samples.empty() ? "no response" : probed->error_samples.front();
      return fail(ErrorKind::network, fmt::format("ingress: {}: {}", spec.url.to_string(), why));
    }
    return {};
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    engine::PhaseRun run;
    engine::ProgressSink& sink = context.progress;
    auto progress_for = [&sink](std::string what) {
      return [&sink, what](double seconds, std::uint64_t responses, std::uint64_t failures) {
        sink.message(Phase::ingress,
                     fmt::format("{} {:.0f}s: {} responses, {} failed", what, seconds, responses, failures));
      };
    };
    sink.message(Phase::ingress, describe_run("requests", requests_));
    Result<LoadResult> requests =
        run_load(requests_, context.clock, context.cancel, progress_for("requests"));
    if (!requests) {
      return std::unexpected(requests.error());
    }
    run.measurements = request_measurements(*requests);
    for (std::string& reason : invalid_reasons(*requests, "requests")) {
      run.invalid_reasons.push_back(std::move(reason));
    }
    if (connections_ && !context.cancel.requested()) {
      sink.message(Phase::ingress, describe_run("connections", *connections_));
      Result<LoadResult> connections =
          run_load(*connections_, context.clock, context.cancel, progress_for("connections"));
      if (!connections) {
        return std::unexpected(connections.error());
      }
      for (Measurement& m : connection_measurements(*connections)) {
        run.measurements.push_back(std::move(m));
      }
      for (std::string& reason : invalid_reasons(*connections, "connections")) {
        run.invalid_reasons.push_back(std::move(reason));
      }
    }
    if (!notes_.empty() && !run.measurements.empty()) {
      std::string joined;
      for (const std::string& note : notes_) {
        joined += (joined.empty() ? "" : "; ") + note;
      }
      for (Measurement& m : run.measurements) {
        m.note += (m.note.empty() ? "" : "; ") + joined;
      }
    }
    return run;
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {}

 private:
  static std::string describe_run(std::string_view what, const LoadSpec& spec) {
    std::string rate = spec.rate ? fmt::format("{:g}/s open loop", spec.rate->per_second) : "closed loop";
    return fmt::format("{}: {} for {} against {}, {} connections, {} threads", what, rate,
                       format_duration(spec.duration), spec.url.to_string(), spec.connections, spec.threads);
  }

  std::filesystem::path lab_dir_;
  Settings settings_;
  LoadSpec requests_;
  std::optional<LoadSpec> connections_;
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<IngressDriver>(std::move(lab_dir));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return [lab_dir](const config::Plan& plan) { return make_driver(plan, lab_dir); };
}

}  // namespace kp::drivers::ingress
