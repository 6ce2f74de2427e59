#include <gtest/gtest.h>

#include "drivers/ingress/http_command.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/url.hpp"

namespace kp::drivers::ingress {
namespace {

TEST(Url, ParsesHostPortAndTarget) {
  Result<Url> url = parse_url("https://example.com:8443/a/b?c=d");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/a/b?c=d");
  EXPECT_EQ(url->authority, "example.com:8443");

  Result<Url> plain = parse_url("http://127.0.0.1");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->target, "/");
  EXPECT_EQ(plain->authority, "127.0.0.1");

  Result<Url> v6 = parse_url("http://[::1]:8080/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->authority, "[::1]:8080");
}

TEST(Url, ErrorsEchoTheText) {
  EXPECT_EQ(parse_url("ftp://x/").error().message, "not an http:// or https:// URL, got \"ftp://x/\"");
  EXPECT_EQ(parse_url("http://x:99999/").error().message,
            "the URL's port must be 1..65535, got \"http://x:99999/\"");
  EXPECT_EQ(parse_url("http:///path").error().message, "the URL has no host, got \"http:///path\"");
}

// Issue 18: user info is a credential; the error that refuses it does not repeat it.
TEST(Url, ErrorsDoNotEchoUserInfo) {
  EXPECT_EQ(parse_url("https://admin:s3cret@shop.example/a@b").error().message,
            "user info in the URL is not supported, got \"https://***@shop.example/a@b\"");
  EXPECT_EQ(parse_url("http://tok@en@x:99999/").error().message,
            "user info in the URL is not supported, got \"http://***@x:99999/\"");
  // An '@' in the path alone is not user info.
  EXPECT_TRUE(parse_url("http://x/a@b"));
}

TEST(Request, BuildsHostHeadersAndBody) {
  Url url = *parse_url("http://127.0.0.1:8080/x");
  RequestSpec spec;
  spec.method = "POST";
  spec.headers = {{"X-A", "1"}};
  spec.body = "hello";
  spec.host = "shop.example";
  EXPECT_EQ(build_request(spec, url, "/cart", false),
            "POST /cart HTTP/1.1\r\nHost: shop.example\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello");
  RequestSpec get;
  EXPECT_EQ(build_request(get, url, "/x", true),
            "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n");
}

TEST(HttpOptions, FlagErrorsNameTheFlagAndEchoTheValue) {
  HttpOptions options;
  options.url = "http://127.0.0.1:1/";
  options.rate = "fast";
  EXPECT_EQ(to_load_spec(options).error().message,
            "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  options.rate = "capacity";
  EXPECT_EQ(
      to_load_spec(options).error().message,
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");
  options.rate = "max";
  ASSERT_TRUE(to_load_spec(options));
  EXPECT_FALSE(to_load_spec(options)->rate.has_value());  // closed loop, as without --rate
  options.rate = "";
  options.duration = "soon";
  EXPECT_EQ(to_load_spec(options).error().message, "--duration: not a duration, got \"soon\"");
  options.duration = "1s";
  options.headers = {"NoColon"};
  EXPECT_EQ(to_load_spec(options).error().message, "--header: must be \"Name: value\", got \"NoColon\"");
  options.headers = {"Host: vhost.example"};
  Result<LoadSpec> spec = to_load_spec(options);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->request.host, "vhost.example");
  options.url = "gopher://x";
  EXPECT_EQ(to_load_spec(options).error().kind, ErrorKind::usage);
}

TEST(HttpOptions, CliParsesTheWrkStyleFlags) {
  CLI::App app;
  HttpOptions options;
  add_http_options(app, options);
  app.parse("http://127.0.0.1:8080/ -d 5s -c 50 -t 1 -R 10k", false);
  EXPECT_EQ(options.threads, 1);
  EXPECT_EQ(options.connections, 50);
  EXPECT_EQ(options.duration, "5s");
  EXPECT_EQ(options.rate, "10k");
  Result<LoadSpec> spec = to_load_spec(options);
  ASSERT_TRUE(spec);
  EXPECT_DOUBLE_EQ(spec->rate->per_second, 10000);
}

}  // namespace
}  // namespace kp::drivers::ingress
