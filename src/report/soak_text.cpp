#include "report/soak_text.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "config/load_profile.hpp"
#include "core/units.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

std::string seconds_text(double seconds) {
  return format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
}

}  // namespace

std::string soak_summary(const SoakRecord& soak) {
  std::string out = fmt::format(
      "soak: {} of {} in {} round{}; etcd's leader watched {}; a checkpoint every {}",
      format_duration(soak.elapsed), format_duration(soak.planned), soak.rounds, soak.rounds == 1 ? "" : "s",
      format_duration(soak.etcd_watched), format_duration(soak.checkpoint));
  for (const SoakResume& resume : soak.resumes) {
    out += fmt::format("; resumed after {}", format_duration(resume.after));
  }
  if (!soak.load_profile.empty()) {
    out += fmt::format("; load profile {}", soak.load_profile);
  }
  return out;
}

std::string load_factors_text(const std::vector<double>& factors) {
  std::string out;
  for (double factor : factors) {
    out += (out.empty() ? "" : ", ") + config::factor_text(factor);
  }
  return out.empty() ? "-" : out;
}

std::vector<std::string> soak_hour_headers(const SoakRecord& soak) {
  std::vector<std::string> out = {"metric", "hour", "count", "P50", "P99", "max"};
  if (!soak.load_profile.empty()) {
    out.emplace_back("load factor");
  }
  return out;
}

std::vector<std::vector<std::string>> soak_hour_cells(const SoakRecord& soak) {
  std::vector<const SoakHour*> rows;
  for (const SoakHour& hour : soak.hours) {
    rows.push_back(&hour);
  }
  std::ranges::stable_sort(rows, [](const SoakHour* a, const SoakHour* b) {
    return a->metric != b->metric ? a->metric < b->metric : a->hour < b->hour;
  });
  std::vector<std::vector<std::string>> out;
  for (const SoakHour* hour : rows) {
    out.push_back({hour->metric, fmt::format("{}-{}h", hour->hour, hour->hour + 1),
                   fmt::format("{}", hour->count), seconds_text(hour->p50), seconds_text(hour->p99),
                   seconds_text(hour->max)});
    if (!soak.load_profile.empty()) {
      out.back().push_back(load_factors_text(hour->load_factors));
    }
  }
  return out;
}

std::vector<std::string> soak_watch_lines(const SoakRecord& soak) {
  std::vector<std::string> out;
  if (soak.watches.empty()) {
    return out;
  }
  std::string covered;
  for (const SoakWatchState& watch : soak.watches) {
    covered += covered.empty() ? "watches: " : "; ";
    covered += watch.unwatched.empty() ? fmt::format("{} {}", watch.source, format_duration(watch.covered))
                                       : fmt::format("{} not watched: {}", watch.source, watch.unwatched);
  }
  out.push_back(std::move(covered));
  if (soak.events.empty()) {
    out.emplace_back("no event seen (no election, no NotReady node, no restart)");
  }
  for (const WatchEvent& event : soak.events) {
    out.push_back(
        fmt::format("{} {} {}: {}", detail::iso_utc(event.at), event.source, event.kind, event.text));
  }
  if (soak.events_dropped > 0) {
    out.push_back(fmt::format("{} more event{} not kept (a soak keeps {})", soak.events_dropped,
                              soak.events_dropped == 1 ? "" : "s", kMaxSoakEvents));
  }
  return out;
}

}  // namespace kp::report
