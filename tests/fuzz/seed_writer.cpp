// Writes the seeds of the net targets with the protocol's own encoders, so they are what a real agent sends:
// `fuzz_seed_writer <tests/fuzz/corpus>` (run by hand when the protocol changes; the output is committed).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "drivers/net/protocol.hpp"
#include "drivers/net/result.hpp"

namespace net = kp::drivers::net;
using namespace std::chrono_literals;

namespace {

void write(const std::filesystem::path& file, std::string_view bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

net::ClientResult sample(net::Scenario scenario) {
  net::ClientResult r;
  r.spec.scenario = scenario;
  r.spec.rate = kp::Rate{500};
  r.server = "10.0.0.2:5201";
  r.complete = true;
  r.measured = 2s;
  r.transactions = 3;
  r.transactions_total = 4;
  r.transaction_rate = 1.5;
  r.per_second_tps = {1.0, 2.0};
  const kp::TimePoint t0{};
  for (int i = 1; i <= 3; ++i) {
    r.latency.record(t0, t0 + std::chrono::microseconds(i), t0 + std::chrono::microseconds(20 * i));
  }
  kp::PacerStats stats;
  stats.sends = 4;
  stats.late_sends = 1;
  stats.max_lag = 3ms;
  r.pacer = stats;
  net::SendAccount sends;
  sends.due = 5;
  sends.sent = 4;
  sends.own_lateness.record(12'000);
  r.sends = sends;
  r.client_cpu = net::CpuUse{10ms, 30ms, 1200ms};
  r.server_cpu = net::CpuUse{5ms, 15ms, 1190ms};
  net::ServerReport report;
  report.bytes_received = 256;
  report.transactions = 4;
  report.connections = 1;
  report.window = 1190ms;
  report.per_second_bytes = {100, 156};
  r.server_report = report;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_writer CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  net::TestSpec spec;
  spec.scenario = net::Scenario::tcp_rr;
  spec.rate = kp::Rate{1000};
  spec.total = 100;
  net::ServerReport report = sample(net::Scenario::tcp_rr).server_report.value();
  // A whole control conversation as one side reads it (the first byte: the size of each read, less one).
  std::string conversation = std::string(1, '\x07');
  for (const net::ControlMessage& message :
       {net::ControlMessage{net::HelloMessage{spec}}, net::ControlMessage{net::ReadyMessage{42, 5ms}},
        net::ControlMessage{net::MarkMessage{net::MarkName::measure_start}},
        net::ControlMessage{net::MarkMessage{net::MarkName::measure_end}},
        net::ControlMessage{net::DoneMessage{}}, net::ControlMessage{net::ResultMessage{report}},
        net::ControlMessage{net::ErrorMessage{"busy"}}}) {
    conversation += net::encode(message);
  }
  write(corpus / "net_control" / "conversation.txt", conversation);
  net::DataHeader data;
  data.stream = 3;
  data.session = 42;
  auto header = net::encode(data);
  write(corpus / "net_control" / "data_header.bin",
        std::string(1, '\x00') + std::string(header.data(), header.size()));
  spec.scenario = net::Scenario::udp_stream;
  spec.rate.reset();
  spec.total.reset();
  spec.message_size = 1400;
  spec.bandwidth = kp::Bandwidth{1e9};
  write(corpus / "net_control" / "hello_udp.txt",
        std::string(1, '\x3f') + net::encode(net::HelloMessage{spec}));

  write(corpus / "net_result" / "tcp_rr.json", net::to_json_line(sample(net::Scenario::tcp_rr)));
  net::ClientResult stream = sample(net::Scenario::udp_stream);
  stream.complete = false;
  stream.error = "server report missing";
  stream.server_report.reset();
  stream.throughput_bps = 9.4e8;
  stream.per_second_bps = {9.4e8, 9.3e8};
  stream.datagrams_sent = 10;
  stream.datagrams_received = 9;
  stream.loss_ratio = 0.1;
  write(corpus / "net_result" / "udp_stream.json", net::to_json_line(stream));
  return 0;
}
