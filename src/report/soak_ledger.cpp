#include "report/soak_ledger.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace kp::report {
namespace {

constexpr auto kHour = std::chrono::hours(1);
constexpr std::string_view kLeaderChanges = "etcd.leader_changes";

int hour_of(Duration since_start) {
  return static_cast<int>(std::max<Duration>(since_start, Duration{0}) / kHour);
}

double seconds_of_ns(std::int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

const Measurement* find(const std::vector<Measurement>& measurements, std::string_view metric) {
  for (const Measurement& measurement : measurements) {
    if (measurement.metric == metric) {
      return &measurement;
    }
  }
  return nullptr;
}

}  // namespace

Duration to_record_precision(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration);
}

SoakHour soak_hour(int hour, std::string metric, const Histogram& histogram) {
  SoakHour row;
  row.hour = hour;
  row.metric = std::move(metric);
  row.count = histogram.count();
  row.p50 = seconds_of_ns(histogram.value_at_percentile(50));
  row.p99 = seconds_of_ns(histogram.value_at_percentile(99));
  row.max = seconds_of_ns(histogram.max());
  row.histogram = histogram.to_json().dump();
  return row;
}

SoakLedger::SoakLedger(std::vector<config::CriteriaRow> rows, config::TestType type)
    : rows_(std::move(rows)), type_(type) {}

void SoakLedger::resume_from(const SoakRecord& record, const std::vector<eval::PhaseInput>& shown) {
  for (const SoakHour& hour : record.hours) {
    Cell& cell = cells_[{hour.hour, hour.metric}];
    cell.closed = hour;
    cell.factors = hour.load_factors;
  }
  factors_ = record.factors;
  factor_ = factors_.empty() ? 1.0 : factors_.back().factor;
  etcd_watched_ = record.etcd_watched;
  std::map<Phase, int> shown_round;
  for (const SoakPhaseRounds& phase : record.phases) {
    runs_[phase.phase] = phase.runs;
    shown_round[phase.phase] = phase.shown_round;
  }
  for (const eval::PhaseInput& input : shown) {
    if (input.status == eval::PhaseStatus::in_progress ||
        (input.status == eval::PhaseStatus::skipped && input.measurements.empty())) {
      continue;
    }
    eval::PhaseInput kept = input;
    if (const Measurement* changes = find(kept.measurements, kLeaderChanges); changes != nullptr) {
      // The soak's total so far, and its elections' notes: the rounds after the resume add to them.
      leader_changes_ = changes->value;
      if (changes->value > 0 && !changes->note.empty()) {
        std::string note = changes->note;
        if (constexpr std::string_view kPrefix = "over the soak: "; note.starts_with(kPrefix)) {
          note.erase(0, kPrefix.size());
        }
        leader_notes_.push_back(std::move(note));
      }
    }
    offer(shown_, kept, std::nullopt, shown_round[input.phase]);
  }
}

void SoakLedger::close_before(int hour) {
  for (auto& [key, cell] : cells_) {
    if (key.first < hour && cell.open) {
      cell.closed = soak_hour(key.first, key.second, *cell.open);
      cell.closed.load_factors = cell.factors;
      cell.open.reset();
    }
  }
}

void SoakLedger::round_started(int round_number, Duration at, double factor) {
  factor_ = factor;
  if (factors_.empty() || factors_.back().factor != factor) {
    factors_.push_back(SoakFactor{.round = round_number, .at = to_record_precision(at), .factor = factor});
  }
}

void SoakLedger::phase_finished(const std::vector<Measurement>& measurements, Duration started_at) {
  const int hour = hour_of(started_at);
  close_before(hour);
  for (const Measurement& measurement : measurements) {
    if (!measurement.histogram || measurement.histogram->count() == 0) {
      continue;
    }
    Cell& cell = cells_[{hour, measurement.metric}];
    if (!cell.open) {
      cell.open.emplace();
      if (!cell.closed.histogram.empty()) {
        // An hour a resume continues: its merged histogram so far comes back from its compact form.
        Result<Histogram> before = Histogram::from_json(nlohmann::json::parse(cell.closed.histogram));
        if (before) {
          cell.open->merge(*before);
        }
      }
    }
    cell.open->merge(*measurement.histogram);
    if (!std::ranges::binary_search(cell.factors, factor_)) {
      cell.factors.insert(std::ranges::upper_bound(cell.factors, factor_), factor_);
    }
  }
}

int SoakLedger::rank_of(const eval::PhaseInput& input) const {
  const eval::PhaseEvaluation evaluated = eval::evaluate_phase(input, rows_, type_);
  if (evaluated.verdict == eval::Verdict::skipped) {
    return -1;
  }
  return static_cast<int>(evaluated.verdict);
}

void SoakLedger::offer(std::map<Phase, Shown>& shown, const eval::PhaseInput& input,
                       std::optional<engine::PhaseTiming> timing, int round) const {
  const int rank = rank_of(input);
  auto found = shown.find(input.phase);
  if (found == shown.end() || rank >= found->second.rank) {
    shown[input.phase] = Shown{input, timing, round, rank};
  }
}

void SoakLedger::round_finished(const engine::RunResult& round, int round_number) {
  etcd_watched_ += round.soak;
  for (const eval::PhaseInput& input : round.inputs) {
    if (input.status == eval::PhaseStatus::skipped && input.measurements.empty()) {
      continue;
    }
    ++runs_[input.phase];
    std::optional<engine::PhaseTiming> timing;
    if (auto found = round.timings.find(input.phase); found != round.timings.end()) {
      timing = found->second;
    }
    offer(shown_, input, timing, round_number);
    if (const Measurement* changes = find(input.measurements, kLeaderChanges);
        changes != nullptr && changes->value > 0) {
      leader_changes_ += changes->value;
      leader_notes_.push_back(fmt::format("round {}: {}", round_number, changes->note));
    }
  }
}

std::vector<eval::PhaseInput> SoakLedger::inputs(const engine::RunResult* current, int current_round,
                                                 std::map<Phase, engine::PhaseTiming>& timings) const {
  std::map<Phase, Shown> shown = shown_;
  double changes = leader_changes_;
  std::vector<std::string> notes = leader_notes_;
  std::optional<Phase> running;
  if (current != nullptr) {
    for (const eval::PhaseInput& input : current->inputs) {
      if (input.status == eval::PhaseStatus::in_progress) {
        running = input.phase;
        continue;
      }
      if (input.status == eval::PhaseStatus::skipped && input.measurements.empty()) {
        continue;
      }
      std::optional<engine::PhaseTiming> timing;
      if (auto found = current->timings.find(input.phase); found != current->timings.end()) {
        timing = found->second;
      }
      offer(shown, input, timing, current_round);
      if (const Measurement* counted = find(input.measurements, kLeaderChanges);
          counted != nullptr && counted->value > 0) {
        changes += counted->value;
        notes.push_back(fmt::format("round {}: {}", current_round, counted->note));
      }
    }
  }
  if (static_cast<double>(watched_changes_) > changes) {
    changes = static_cast<double>(watched_changes_);
    notes = watched_notes_;
  }
  std::vector<eval::PhaseInput> out;
  for (Phase phase : kFlowOrder) {
    auto found = shown.find(phase);
    if (found == shown.end()) {
      eval::PhaseInput input;
      input.phase = phase;
      if (running == phase) {
        // Never measured yet: the running round's phase stands for it.
        input = *std::ranges::find_if(current->inputs,
                                      [&](const eval::PhaseInput& one) { return one.phase == phase; });
        if (auto timing = current->timings.find(phase); timing != current->timings.end()) {
          timings[phase] = timing->second;
        }
      } else {
        input.status = eval::PhaseStatus::skipped;
        input.reason = "not run in any round of the soak yet";
      }
      out.push_back(std::move(input));
      continue;
    }
    eval::PhaseInput input = found->second.input;
    const int runs = runs_.contains(phase) ? runs_.at(phase) : 0;
    input.notes.push_back(fmt::format(
        "soak: round {} shown, the worst of the {} round{} that ran this phase (the latest of equals)",
        found->second.round, runs, runs == 1 ? "" : "s"));
    bool counted = false;
    for (Measurement& measurement : input.measurements) {
      if (measurement.metric == kLeaderChanges) {
        // Every round's elections, not only the shown round's.
        counted = true;
        measurement.value = changes;
        measurement.note =
            changes > 0 ? fmt::format("over the soak: {}", fmt::join(notes, "; ")) : measurement.note;
      }
    }
    if (phase == Phase::etcd && !counted && changes > 0) {
      // The shown round measured no elections (it could not reach etcd after one, say): the soak's are
      // evidence all the same.
      Measurement total;
      total.metric = std::string(kLeaderChanges);
      total.value = changes;
      total.source = "soak";
      total.note = fmt::format("over the soak: {}", fmt::join(notes, "; "));
      input.measurements.push_back(std::move(total));
    }
    if (found->second.timing) {
      timings[phase] = *found->second.timing;
    }
    out.push_back(std::move(input));
  }
  return out;
}

void SoakLedger::watched_elections(std::size_t count, std::vector<std::string> notes) {
  watched_changes_ = count;
  watched_notes_ = std::move(notes);
}

Duration SoakLedger::etcd_watched(const engine::RunResult* current) const {
  return etcd_watched_ + (current != nullptr ? current->soak : Duration{0});
}

std::vector<SoakHour> SoakLedger::hours() const {
  std::vector<SoakHour> out;
  for (const auto& [key, cell] : cells_) {
    out.push_back(cell.open ? soak_hour(key.first, key.second, *cell.open) : cell.closed);
    out.back().load_factors = cell.factors;
  }
  return out;
}

std::vector<SoakPhaseRounds> SoakLedger::phase_rounds(const engine::RunResult* current,
                                                      int current_round) const {
  std::map<Phase, Shown> shown = shown_;
  std::map<Phase, int> runs = runs_;
  if (current != nullptr) {
    for (const eval::PhaseInput& input : current->inputs) {
      if (input.status == eval::PhaseStatus::in_progress ||
          (input.status == eval::PhaseStatus::skipped && input.measurements.empty())) {
        continue;
      }
      offer(shown, input, std::nullopt, current_round);
      ++runs[input.phase];
    }
  }
  std::vector<SoakPhaseRounds> out;
  for (Phase phase : kFlowOrder) {
    if (auto found = shown.find(phase); found != shown.end()) {
      out.push_back({phase, runs[phase], found->second.round});
    }
  }
  return out;
}

}  // namespace kp::report
