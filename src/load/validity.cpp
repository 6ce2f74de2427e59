#include "load/validity.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace kp::load {
namespace {

std::string seconds_text(double seconds) {
  return format_quantity(Quantity::duration, seconds);
}
std::string ns_text(double ns) {
  return seconds_text(ns / 1e9);
}

}  // namespace

void SendAccount::merge(const SendAccount& other) {
  due += other.due;
  sent += other.sent;
  queued_for_server += other.queued_for_server;
  unsent_for_server += other.unsent_for_server;
  own_lateness.merge(other.own_lateness);
}

void GeneratorAccount::take(const SendAccount& sends) {
  due = sends.due;
  sent = sends.sent;
  queued_for_server = sends.queued_for_server;
  unsent_for_server = sends.unsent_for_server;
  own_lateness = sends.own_lateness;
}

double GeneratorAccount::own_share() const {
  if (!open_loop || due == 0) {
    return 1.0;
  }
  // What the generator owed for its own reasons: due sends neither made nor held back by a busy server.
  const std::uint64_t accounted = std::min(due, sent + unsent_for_server);
  return double(accounted) / double(due);
}

std::string throttling_statement(const CpuThrottling& throttling) {
  if (throttling.periods == 0) {
    return {};
  }
  return fmt::format("CPU quota throttled the generator in {} of {} periods ({:.1f} %), {} in all",
                     throttling.throttled, throttling.periods, throttling.share() * 100,
                     seconds_text(std::chrono::duration<double>(throttling.throttled_time).count()));
}

std::optional<std::string> throttling_reason(const CpuThrottling& throttling) {
  if (throttling.share() <= kMaxThrottledShare) {
    return std::nullopt;
  }
  return fmt::format(
      "the load generator's CPU quota throttled it in {:.1f} % of the run's periods (above {:g} %; {} of {}, "
      "{} stopped): it could not hold its schedule for its own reasons (raise the agent's CPU limit or lower "
      "its threads)",
      throttling.share() * 100, kMaxThrottledShare * 100, throttling.throttled, throttling.periods,
      seconds_text(std::chrono::duration<double>(throttling.throttled_time).count()));
}

namespace {

void judge_throttling(const GeneratorAccount& account, Validity& validity) {
  if (!account.throttling) {
    return;
  }
  if (std::string said = throttling_statement(*account.throttling); !said.empty()) {
    validity.statement += "; " + said;
  }
  if (std::optional<std::string> reason = throttling_reason(*account.throttling)) {
    validity.invalid_reasons.push_back(std::move(*reason));
  }
}

}  // namespace

Validity judge_validity(const GeneratorAccount& account, std::optional<double> tightest_target) {
  Validity validity;
  const double window = std::chrono::duration<double>(account.window).count();
  if (!account.open_loop) {
    validity.statement =
        fmt::format("{}: closed loop (rate max): no schedule to keep, sent {}", account.what, account.sent);
    judge_throttling(account, validity);
    return validity;
  }
  const double share = account.own_share();
  const double sent_rate = window > 0 ? double(account.sent) / window : 0.0;
  std::string lateness = "no send measured";
  std::optional<double> p99_seconds;
  if (account.own_lateness.count() > 0) {
    p99_seconds = double(account.own_lateness.value_at_percentile(99)) / 1e9;
    lateness =
        fmt::format("P50 {}, P99 {}, max {}", ns_text(double(account.own_lateness.value_at_percentile(50))),
                    seconds_text(*p99_seconds), ns_text(double(account.own_lateness.max())));
  }
  std::optional<double> limit;
  if (tightest_target) {
    limit = kMaxLatenessOfTarget * *tightest_target;
  }
  validity.statement = fmt::format(
      "{}: offered {}, sent {} ({:.2f} % of due, {} of {}); own send lateness {}{}", account.what,
      format_quantity(Quantity::rate, account.offered), format_quantity(Quantity::rate, sent_rate),
      share * 100, account.sent, account.due, lateness,
      limit ? fmt::format(" (limit {}: 10 % of the {} target)", seconds_text(*limit),
                          seconds_text(*tightest_target))
            : std::string());
  if (account.queued_for_server > 0) {
    validity.statement += fmt::format("; {} queued for a connection (the server's latency, counted in it)",
                                      account.queued_for_server);
    if (account.unsent_for_server > 0) {
      validity.statement += fmt::format(", {} never sent: every connection stayed busy (the server's)",
                                        account.unsent_for_server);
    }
  }

  if (account.rate_judged && share < kMinOwnShare) {
    validity.invalid_reasons.push_back(
        fmt::format("the load generator sent only {:.2f} % of the {} due (below {:g} %), for its own reasons "
                    "(its CPU or event "
                    "loop fell behind), on a rate that is judged",
                    share * 100, account.what, kMinOwnShare * 100));
  }
  if (limit && p99_seconds && *p99_seconds > *limit) {
    validity.invalid_reasons.push_back(
        fmt::format("the load generator's own send lateness P99 {} is above {} (10 % of the tightest latency "
                    "target, {}): it could change a verdict",
                    seconds_text(*p99_seconds), seconds_text(*limit), seconds_text(*tightest_target)));
    validity.lateness = LatenessFinding{.reason = validity.invalid_reasons.back(), .p99 = *p99_seconds};
  }
  judge_throttling(account, validity);
  return validity;
}

}  // namespace kp::load
