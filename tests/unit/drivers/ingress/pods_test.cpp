// The ingress phase from agent pods: what each agent is told (its share of the rate and connections, one
// start time), how its line is read back (losslessly, so many agents merge exactly), and how an Ingress
// object is read.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/ingress/agent_result.hpp"
#include "drivers/ingress/http_command.hpp"
#include "drivers/ingress/ingress_object.hpp"
#include "drivers/ingress/pod_load.hpp"
#include "load/start_time.hpp"

namespace kp::drivers::ingress {
namespace {

using nlohmann::json;

LoadResult sample_result(std::int64_t base_ns, std::uint64_t responses) {
  LoadResult result;
  result.open_loop = true;
  result.intended_rate = 100;
  result.window = std::chrono::seconds(3);
  result.elapsed = std::chrono::milliseconds(3002);
  result.requests_sent = responses + 1;
  result.responses = responses;
  result.sent_in_window = responses + 1;
  result.issued = responses + 1;
  result.dispatched = responses + 1;
  result.status_classes[2] = responses - 2;
  result.status_classes[5] = 2;
  result.timeouts = 1;
  result.connections_opened = 2;
  result.bytes_read = 1000 * responses;
  for (std::uint64_t i = 0; i < responses; ++i) {
    result.latency.record(base_ns + static_cast<std::int64_t>(i) * 997);
    result.uncorrected.record(base_ns / 2 + static_cast<std::int64_t>(i) * 13);
  }
  result.connect_time.record(40'000);
  result.own_lateness.record(5'000, responses);
  result.pacer.sends = responses + 1;
  result.pacer.late_sends = 3;
  result.pacer.max_lag = std::chrono::microseconds(250);
  result.pacer.lag.record(20'000, responses + 1);
  return result;
}

json line_of(const LoadResult& result) {
  LoadSpec spec;
  spec.url = *parse_url("http://10.239.0.10/");
  spec.rate = Rate{100};
  return json::parse(agent_json_line(spec, result));
}

TEST(IngressPods, AnAgentsLineReadsBackLosslessly) {
  const LoadResult original = sample_result(1'000'000, 300);
  Result<LoadResult> read = load_result_from_line(line_of(original));
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(read->responses, 300U);
  EXPECT_EQ(read->requests_sent, 301U);
  EXPECT_EQ(read->status_classes[5], 2U);
  EXPECT_EQ(read->timeouts, 1U);
  EXPECT_EQ(read->dispatched, 301U);
  EXPECT_TRUE(read->open_loop);
  EXPECT_DOUBLE_EQ(read->intended_rate, 100);
  EXPECT_EQ(read->elapsed, original.elapsed);
  EXPECT_EQ(read->pacer.late_sends, 3U);
  EXPECT_EQ(read->pacer.sends, 301U);
  EXPECT_EQ(read->pacer.max_lag, original.pacer.max_lag);
  EXPECT_EQ(read->latency.to_json(), original.latency.to_json());
  EXPECT_EQ(read->uncorrected.to_json(), original.uncorrected.to_json());
  EXPECT_EQ(read->own_lateness.to_json(), original.own_lateness.to_json());
  EXPECT_EQ(read->pacer.lag.to_json(), original.pacer.lag.to_json());
}

TEST(IngressPods, ThreeAgentsMergeExactlyAsOneGeneratorWould) {
  const LoadResult a = sample_result(1'000'000, 300);
  const LoadResult b = sample_result(2'000'000, 290);
  const LoadResult c = sample_result(9'000'000, 310);
  LoadResult direct;
  direct.merge(a);
  direct.merge(b);
  direct.merge(c);
  LoadResult from_lines;
  for (const LoadResult* r : {&a, &b, &c}) {
    Result<LoadResult> read = load_result_from_line(line_of(*r));
    ASSERT_TRUE(read.has_value());
    from_lines.merge(*read);
  }
  EXPECT_EQ(from_lines.responses, 900U);
  EXPECT_DOUBLE_EQ(from_lines.intended_rate, 300);
  EXPECT_EQ(from_lines.latency.count(), 900U);
  EXPECT_EQ(from_lines.latency.to_json(), direct.latency.to_json());
  EXPECT_EQ(from_lines.latency.value_at_percentile(99), direct.latency.value_at_percentile(99));
  EXPECT_DOUBLE_EQ(from_lines.rps(), direct.rps());
}

TEST(IngressPods, AFailureLineIsTheAgentsErrorAndAForeignLineIsRefused) {
  Result<LoadResult> failed = load_result_from_line(json{
      {"kind", "kubeproof.agent.http"}, {"version", 1}, {"error", "cannot connect to http://10.0.0.1/"}});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, ErrorKind::network);
  EXPECT_EQ(failed.error().message, "cannot connect to http://10.0.0.1/");
  EXPECT_FALSE(load_result_from_line(json{{"kind", "kubeproof.agent.dns"}}).has_value());
  json line = line_of(sample_result(1'000'000, 10));
  line["counts"].erase("responses");
  Result<LoadResult> missing = load_result_from_line(line);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("counts.responses"), std::string::npos);
  // Seconds no Duration holds were converted unchecked (undefined behaviour).
  for (const auto& [key, value] :
       {std::pair<const char*, double>{"elapsed_s", 1e300}, {"window_s", -0.5}, {"pacer_max_lag_s", 9.3e9}}) {
    json far = line_of(sample_result(1'000'000, 10));
    far["counts"][key] = value;
    Result<LoadResult> refused = load_result_from_line(far);
    ASSERT_FALSE(refused.has_value()) << key;
    EXPECT_EQ(refused.error().kind, ErrorKind::protocol);
    EXPECT_EQ(refused.error().message,
              fmt::format("kubeproof.agent.http line: counts.{}: must be between 0 and "
                          "9.2e9 seconds, got {}",
                          key, json(value).dump()));
  }
}

TEST(IngressPods, EachAgentGetsItsShareAndTheOneStartTime) {
  LoadSpec spec;
  spec.url = *parse_url("http://10.239.0.10/cart");
  spec.rate = Rate{1000};
  spec.connections = 10;
  spec.duration = std::chrono::seconds(30);
  spec.timeout = std::chrono::seconds(5);
  spec.request.host = "shop.example.com";
  const WallTime start = load::from_epoch_ms(1796221200000);
  const std::vector<std::string> first = agent_args(spec, 0, 0, 3, start);
  const std::vector<std::string> last = agent_args(spec, 0, 2, 3, start);
  const auto value = [](const std::vector<std::string>& args, std::string_view flag) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == flag) {
        return args[i + 1];
      }
    }
    return std::string("<absent>");
  };
  EXPECT_EQ(first[0], "http");
  EXPECT_EQ(first[1], "http://10.239.0.10:80/cart");  // Url::to_string names the port
  EXPECT_EQ(value(first, "--rate"), "333.333333");
  EXPECT_EQ(value(first, "--connections"), "4");  // 10 over 3: 4, 3, 3
  EXPECT_EQ(value(last, "--connections"), "3");
  EXPECT_EQ(value(first, "--duration"), "30000ms");
  EXPECT_EQ(value(first, "--host"), "shop.example.com");
  EXPECT_EQ(value(first, "--start-at"), "1796221200000");
  EXPECT_EQ(value(last, "--start-at"), "1796221200000");
  EXPECT_EQ(value(first, "--threads"), "<absent>");  // the agent sizes itself from its CPU quota
  // The agent's own flag reader accepts every argument.
  HttpOptions options;
  CLI::App app;
  add_http_options(app, options);
  app.add_option("--start-at");
  std::vector<std::string> reversed(first.rbegin(), first.rend() - 1);  // CLI11 parses a reversed vector
  ASSERT_NO_THROW(app.parse(reversed));
  EXPECT_TRUE(to_load_spec(options).has_value());
}

json ingress(json status) {
  return json{{"metadata", {{"name", "storefront"}, {"namespace", "shop"}}},
              {"spec",
               {{"ingressClassName", "nginx"},
                {"tls", {{{"hosts", {"shop.example.com"}}, {"secretName", "shop-tls"}}}},
                {"rules",
                 {{{"host", "shop.example.com"},
                   {"http", {{"paths", {{{"path", "/cart"}, {"pathType", "Prefix"}}}}}}}}}}},
              {"status", std::move(status)}};
}

TEST(IngressPods, AnIngressGivesItsAddressHostPathAndScheme) {
  Result<IngressTarget> target = target_of_ingress(
      ingress({{"loadBalancer", {{"ingress", {{{"ip", "203.0.113.7"}}}}}}}), "shop/storefront");
  ASSERT_TRUE(target.has_value()) << target.error().message;
  EXPECT_EQ(target->url, "https://203.0.113.7/cart");
  EXPECT_EQ(target->host, "shop.example.com");
  Result<IngressTarget> named = target_of_ingress(
      ingress({{"loadBalancer", {{"ingress", {{{"hostname", "lb.example.net"}}}}}}}), "shop/x");
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->url, "https://lb.example.net/cart");
  Result<IngressTarget> none =
      target_of_ingress(ingress({{"loadBalancer", json::object()}}), "shop/storefront");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().kind, ErrorKind::input);
  EXPECT_EQ(none.error().message,
            "ingress shop/storefront has no address yet (status.loadBalancer.ingress is empty): no ingress "
            "controller serves it (its class \"nginx\")");
}

}  // namespace
}  // namespace kp::drivers::ingress
