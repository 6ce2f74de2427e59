#include "drivers/etcd/settings.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::etcd {
namespace {

Result<Settings> parse(const std::string& yaml) {
  return parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[0].settings");
}

std::string parse_error(const std::string& yaml) {
  Result<Settings> settings = parse(yaml);
  return settings ? std::string("parsed") : settings.error().message;
}

TEST(EtcdSettings, DefaultsAreTheSmokeShapeOfCheckPerf) {
  Result<Settings> settings = parse_settings(YAML::Node(), "plans/x.yaml", "phases[0].settings");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->clients, 50);
  EXPECT_EQ(settings->key_size, 256u);
  EXPECT_EQ(settings->value_size, 1024u);
  EXPECT_EQ(settings->workload, Workload::write_then_read);
  EXPECT_TRUE(validate(*settings, "plans/x.yaml: phases[0].settings"));
}

TEST(EtcdSettings, ParsesEveryKey) {
  Result<Settings> settings = parse(R"(
endpoints: [127.0.0.1:2379, "https://10.0.0.1:2379"]
metrics_url: http://127.0.0.1:2381/metrics
workload: mixed
read_ratio: 80%
consistency: serializable
key_size: 32B
value_size: 4KiB
key_space: 1000
sequential_keys: true
key_prefix: kp/
connections: 4
clients: 64
threads: 2
rate: 2k/s
arrival: poisson
total: 5000
request_timeout: 2s
failure_window: 1s
metrics_timeout: 3s
stress_factors: [0.5, 1, 2]
stress_p99_limit: 25ms
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->endpoints, (std::vector<std::string>{"127.0.0.1:2379", "https://10.0.0.1:2379"}));
  EXPECT_EQ(settings->workload, Workload::mixed);
  EXPECT_DOUBLE_EQ(settings->read_fraction, 0.8);
  EXPECT_TRUE(settings->serializable);
  EXPECT_EQ(settings->key_size, 32u);
  EXPECT_EQ(settings->value_size, 4096u);
  EXPECT_EQ(settings->key_space, 1000u);
  EXPECT_TRUE(settings->sequential_keys);
  EXPECT_EQ(settings->connections, 4);
  EXPECT_EQ(settings->clients, 64);
  EXPECT_EQ(settings->threads, 2);
  ASSERT_TRUE(settings->rate);
  EXPECT_DOUBLE_EQ(settings->rate->per_second, 2000);
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->total, 5000u);
  EXPECT_EQ(settings->request_timeout, std::chrono::seconds(2));
  EXPECT_EQ(settings->stress_factors, (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(settings->stress_p99_limit, std::chrono::milliseconds(25));
  Result<Settings> closed = parse("rate: max\n");
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->closed_loop);
}

TEST(EtcdSettings, MessagesNameFileLineFieldAndValue) {
  EXPECT_EQ(
      parse_error("clients: 10\nrat: 5\n"),
      "plans/x.yaml:2: phases[0].settings.rat: unknown key (known: endpoints, cacert, cert, key, "
      "metrics_url, "
      "workload, read_ratio, consistency, key_size, value_size, key_space, sequential_keys, key_prefix, "
      "connections, clients, threads, rate, arrival, total, request_timeout, failure_window, "
      "metrics_timeout, stress_factors, stress_p99_limit)");
  EXPECT_EQ(parse_error("rate: fast\n"),
            "plans/x.yaml:1: phases[0].settings.rate: not a rate (or \"max\"), got \"fast\"");
  EXPECT_EQ(parse_error("rate: 0\n"), "plans/x.yaml:1: phases[0].settings.rate: must be > 0, got \"0\"");
  EXPECT_EQ(parse_error("clients: many\n"),
            "plans/x.yaml:1: phases[0].settings.clients: not a whole number, got \"many\"");
  EXPECT_EQ(parse_error("connections: 0\n"),
            "plans/x.yaml:1: phases[0].settings.connections: must be >= 1, got \"0\"");
  EXPECT_EQ(parse_error("workload: scan\n"),
            "plans/x.yaml:1: phases[0].settings.workload: must be write, read, mixed or write-then-read, got "
            "\"scan\"");
  EXPECT_EQ(parse_error("key_size: big\n"),
            "plans/x.yaml:1: phases[0].settings.key_size: not a size, got \"big\"");
  EXPECT_EQ(parse_error("request_timeout: soon\n"),
            "plans/x.yaml:1: phases[0].settings.request_timeout: not a duration, got \"soon\"");
  EXPECT_EQ(
      parse_error("consistency: strong\n"),
      "plans/x.yaml:1: phases[0].settings.consistency: must be linearizable or serializable, got \"strong\"");
  EXPECT_EQ(parse_error("sequential_keys: yes please\n"),
            "plans/x.yaml:1: phases[0].settings.sequential_keys: must be true or false, got \"yes please\"");
  EXPECT_EQ(
      parse_error("endpoints: [localhost]\n"),
      "plans/x.yaml:1: phases[0].settings.endpoints: must be \"host:port\" or \"https://host:port\", got "
      "\"localhost\"");
  EXPECT_EQ(
      parse_error("stress_factors: [1, 0.5]\n"),
      "plans/x.yaml:1: phases[0].settings.stress_factors: factors must increase, got \"0.5\" after \"1\"");
  EXPECT_EQ(parse_error("metrics_url: 127.0.0.1:2381\n"),
            "plans/x.yaml:1: phases[0].settings.metrics_url: must start with http:// or https://, got "
            "\"127.0.0.1:2381\"");
  EXPECT_EQ(parse_error("- 1\n"), "plans/x.yaml:1: phases[0].settings: must be a mapping of settings");
}

TEST(EtcdSettings, CrossFieldValidation) {
  Settings settings;
  settings.key_size = 8;
  EXPECT_EQ(validate(settings, "plans/x.yaml: phases[0].settings").error().message,
            "plans/x.yaml: phases[0].settings.key_size: must be at least 14 bytes to hold key_prefix "
            "\"kubeproof/\" "
            "and key_space 10000, got \"8\"");
  settings = Settings{};
  settings.tls.cert_file = "/nonexistent/client.crt";
  EXPECT_EQ(validate(settings, "w").error().message,
            "w.key: is required with cert \"/nonexistent/client.crt\"");
  settings.tls.key_file = "/nonexistent/client.key";
  EXPECT_EQ(validate(settings, "w").error().message, "w.cert: no such file, got \"/nonexistent/client.crt\"");
  settings = Settings{};
  settings.connections = 8;
  settings.clients = 4;
  EXPECT_EQ(validate(settings, "w").error().message, "w.clients: must be >= connections (8), got \"4\"");
}

TEST(EtcdSettings, ShapeOfEachProfile) {
  Settings settings;
  config::Capacity capacity;
  RunShape smoke = shape_run(settings, config::TestType::smoke, capacity, 1.0, std::chrono::seconds(60));
  ASSERT_EQ(smoke.stages.size(), 2u);
  EXPECT_EQ(smoke.stages[0].name, "write");
  EXPECT_DOUBLE_EQ(smoke.stages[0].rate->per_second, 150);
  EXPECT_EQ(smoke.stages[0].duration, std::chrono::seconds(30));
  EXPECT_EQ(smoke.stages[1].name, "read");
  EXPECT_DOUBLE_EQ(smoke.stages[1].read_fraction, 1.0);
  EXPECT_TRUE(smoke.notes.empty());

  RunShape load = shape_run(settings, config::TestType::load, capacity, 0.8, std::chrono::seconds(100));
  EXPECT_DOUBLE_EQ(load.stages[0].rate->per_second, 800);
  ASSERT_EQ(load.notes.size(), 1u);
  EXPECT_EQ(load.notes[0], "the plan states no capacity.etcd_ops; assumed 1000/s");
  capacity.etcd_ops = Rate{2000};
  load = shape_run(settings, config::TestType::load, capacity, 0.8, std::chrono::seconds(100));
  EXPECT_DOUBLE_EQ(load.stages[0].rate->per_second, 1600);
  EXPECT_TRUE(load.notes.empty());

  settings.stress_factors = {0.5, 1, 2};
  RunShape stress = shape_run(settings, config::TestType::stress, capacity, 1.5, std::chrono::seconds(90));
  ASSERT_EQ(stress.stages.size(), 4u);
  EXPECT_EQ(stress.stages[0].name, "write x0.5");
  EXPECT_DOUBLE_EQ(stress.stages[0].rate->per_second, 1500);
  EXPECT_DOUBLE_EQ(stress.stages[2].rate->per_second, 6000);
  EXPECT_TRUE(stress.stages[2].stress_step);
  EXPECT_EQ(stress.stages[0].duration, std::chrono::seconds(20));
  EXPECT_EQ(stress.stages[3].name, "read");
  EXPECT_EQ(stress.stages[3].duration, std::chrono::seconds(30));

  settings.closed_loop = true;
  RunShape closed = shape_run(settings, config::TestType::load, capacity, 1.0, std::chrono::seconds(10));
  EXPECT_FALSE(closed.stages[0].rate.has_value());
}

}  // namespace
}  // namespace kp::drivers::etcd
