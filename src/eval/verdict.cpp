#include "eval/verdict.hpp"

namespace kp::eval {

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass:
      return "PASS";
    case Verdict::conditional_pass:
      return "CONDITIONAL PASS";
    case Verdict::not_judged:
      return "NOT JUDGED";
    case Verdict::not_measured:
      return "NOT MEASURED";
    case Verdict::incomplete:
      return "INCOMPLETE";
    case Verdict::skipped:
      return "SKIPPED";
    case Verdict::invalid:
      return "INVALID";
    case Verdict::aborted:
      return "ABORTED";
    case Verdict::in_progress:
      return "IN PROGRESS";
    case Verdict::fail:
      return "FAIL";
  }
  return "?";
}

int exit_code_for(Verdict overall) {
  switch (overall) {
    case Verdict::pass:
      return 0;
    case Verdict::fail:
      return 1;
    case Verdict::conditional_pass:
      return 3;
    default:
      return 4;
  }
}

}  // namespace kp::eval
