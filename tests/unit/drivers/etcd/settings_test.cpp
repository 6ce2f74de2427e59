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

TEST(EtcdSettings, DefaultsAreCheckPerfSizedAtCapacityTimesLoad) {
  Result<Settings> settings = parse_settings(YAML::Node(), "plans/x.yaml", "phases[0].settings");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->clients, 50);
  EXPECT_EQ(settings->key_size, 256u);
  EXPECT_EQ(settings->value_size, 1024u);
  EXPECT_EQ(settings->workload, Workload::write_then_read);
  EXPECT_TRUE(settings->rate.from_capacity_load());
  EXPECT_EQ(settings->stress, load::StressSettings{});
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
stress: {steps: [50%, 100%, 200%], bisect: 2}
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
  EXPECT_EQ(settings->rate, load::RateSetting::fixed_at(Rate{2000}));
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->total, 5000u);
  EXPECT_EQ(settings->request_timeout, std::chrono::seconds(2));
  EXPECT_EQ(settings->stress.steps, (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(settings->stress.bisect, 2);
  Result<Settings> closed = parse("rate: max\n");
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->rate.is_max());
  Result<Settings> capacity = parse("rate: capacity\n");
  ASSERT_TRUE(capacity);
  EXPECT_TRUE(capacity->rate.from_capacity_load());
}

TEST(EtcdSettings, MessagesNameFileLineFieldAndValue) {
  EXPECT_EQ(
      parse_error("clients: 10\nrat: 5\n"),
      "plans/x.yaml:2: phases[0].settings.rat: unknown key (known: endpoints, cacert, cert, key, "
      "metrics_url, "
      "workload, read_ratio, consistency, key_size, value_size, key_space, sequential_keys, key_prefix, "
      "connections, clients, threads, rate, arrival, total, request_timeout, failure_window, "
      "metrics_timeout, stress, from, pods)");
  // The kernel's readers, with this file, line and field.
  EXPECT_EQ(
      parse_error("rate: fast\n"),
      "plans/x.yaml:1: phases[0].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_EQ(parse_error("rate: 0\n"),
            "plans/x.yaml:1: phases[0].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
  EXPECT_EQ(
      parse_error("stress:\n  steps: [100%, 150%, 125%]\n"),
      "plans/x.yaml:2: phases[0].settings.stress.steps[2]: must be above the step before it (150%), got "
      "\"125%\"");
  EXPECT_EQ(parse_error("stress:\n  steps: [100%, 600%]\n"),
            "plans/x.yaml:2: phases[0].settings.stress.steps[1]: must be within 0%..500% of capacity, got "
            "\"600%\"");
  EXPECT_EQ(parse_error("stress:\n  bisect: -1\n"),
            "plans/x.yaml:2: phases[0].settings.stress.bisect: must be >= 0, got \"-1\"");
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

}  // namespace
}  // namespace kp::drivers::etcd
