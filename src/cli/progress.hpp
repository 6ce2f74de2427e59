#pragma once

#include <mutex>

#include "engine/driver.hpp"

namespace kp::cli {

// Progress lines on stderr ("[etcd] starting etcd"), so stdout carries only the result table or JSON and can
// be piped. Drivers may report from worker threads: one line is written at a time.
class StderrProgress final : public engine::ProgressSink {
 public:
  void message(Phase phase, std::string_view text) override;

 private:
  std::mutex mutex_;
};

}  // namespace kp::cli
