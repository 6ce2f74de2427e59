// The Kubernetes client against the API server fixture: auth variants, CRUD counted by the fixture itself,
// Status errors, retries, pagination, watches with bookmarks and 410 relists, garbled answers, dead
// endpoints. Waits poll a condition with a deadline; nothing sleeps to synchronise.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "connect_proxy.hpp"
#include "fake_apiserver.hpp"
#include "kube/watch.hpp"
#include "lab/lab.hpp"
#include "lab/process.hpp"

namespace kp::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeApiserver;

json configmap(const std::string& name, const std::string& value = "1") {
  return json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"labels", {{"kubeproof.io/run", "it"}}}}},
              {"data", {{"value", value}}}};
}

json ns_object(const std::string& name) {
  return json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

Resource configmaps() {
  return *builtin_resource("v1", "ConfigMap");
}

std::unique_ptr<Transport> connect(FakeApiserver& server, const std::string& context = "token",
                                   ClientOptions options = {}) {
  Result<RestConfig> config = server.rest_config(context);
  EXPECT_TRUE(config) << (config ? "" : config.error().message);
  Result<std::unique_ptr<Transport>> transport = Transport::create(*config, options, real_clock());
  EXPECT_TRUE(transport);
  return std::move(*transport);
}

// Polls `condition` until it holds or `limit` passes.
template <typename Condition>
bool eventually(Condition condition, Duration limit = seconds(10)) {
  TimePoint deadline = real_clock().now() + limit;
  while (real_clock().now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::yield();
    real_clock().sleep_until(real_clock().now() + milliseconds(10));
  }
  return condition();
}

class KubeClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new FakeApiserver("client"); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->error(); }
  static FakeApiserver* server_;
};
FakeApiserver* KubeClient::server_ = nullptr;

TEST_F(KubeClient, CrudWithTokenMatchesTheFixturesOwnCounters) {
  json before = server_->counters();
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("crud")));
  for (int i = 0; i < 5; ++i) {
    ApiResult<json> created = api.create(configmaps(), "crud", configmap(fmt::format("cm-{}", i)));
    ASSERT_TRUE(created) << created.error().error.message;
    EXPECT_EQ((*created)["metadata"]["namespace"], "crud");
  }
  ApiResult<json> got = api.get(configmaps(), "crud", "cm-3");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["value"], "1");
  ApiResult<json> patched = api.patch(configmaps(), "crud", "cm-3", json{{"data", {{"value", "2"}}}});
  ASSERT_TRUE(patched);
  EXPECT_EQ((*patched)["data"]["value"], "2");
  ApiResult<ListResult> listed = api.list(configmaps(), "crud");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items.size(), 5u);
  EXPECT_FALSE(listed->resource_version.empty());
  ASSERT_TRUE(api.remove(configmaps(), "crud", "cm-0"));
  json after = server_->counters();
  auto delta = [&](const char* verb) {
    return after["by_verb"].value(verb, 0) - before["by_verb"].value(verb, 0);
  };
  EXPECT_EQ(delta("create"), 6);
  EXPECT_EQ(delta("get"), 1);
  EXPECT_EQ(delta("patch"), 1);
  EXPECT_EQ(delta("list"), 1);
  EXPECT_EQ(delta("delete"), 1);
  TransportStats stats = transport->stats();
  EXPECT_EQ(stats.requests, 10u);
  EXPECT_LE(stats.connections, 2u) << "requests in sequence must reuse the connection";
}

TEST_F(KubeClient, ClientCertificateAuthenticates) {
  auto transport = connect(*server_, "cert");
  Api api(*transport);
  ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
  EXPECT_TRUE(listed) << listed.error().error.message;
}

TEST_F(KubeClient, WrongTokenIs401WithAClearMessageAndNoSecret) {
  Result<RestConfig> config = server_->rest_config();
  ASSERT_TRUE(config);
  config->token = "wrong-secret-token";
  auto transport = std::move(*Transport::create(*config, {}, real_clock()));
  Api api(*transport);
  ApiResult<json> got = api.get(configmaps(), "default", "x");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, 401);
  EXPECT_EQ(got.error().error.message,
            "GET /api/v1/namespaces/default/configmaps/x: 401 Unauthorized: Unauthorized");
  EXPECT_EQ(got.error().error.message.find("wrong-secret-token"), std::string::npos);
}

TEST_F(KubeClient, ConflictAndNotFoundAreStatusErrors) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("errors")));
  ASSERT_TRUE(api.create(configmaps(), "errors", configmap("dup")));
  ApiResult<json> again = api.create(configmaps(), "errors", configmap("dup"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, 409);
  EXPECT_EQ(again.error().reason, "AlreadyExists");
  EXPECT_EQ(
      again.error().error.message,
      "POST /api/v1/namespaces/errors/configmaps: 409 AlreadyExists: configmaps \"dup\" already exists");
  ApiResult<json> missing = api.get(configmaps(), "errors", "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 404);
  EXPECT_EQ(missing.error().error.message,
            "GET /api/v1/namespaces/errors/configmaps/nope: 404 NotFound: configmaps \"nope\" not found");
  ApiResult<json> no_ns = api.create(configmaps(), "no-such-ns", configmap("a"));
  ASSERT_FALSE(no_ns);
  EXPECT_EQ(no_ns.error().code, 404);
}

TEST_F(KubeClient, TooManyRequestsIsRetriedAfterRetryAfter) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("busy")));
  server_->control(
      "POST", "/fixture/config",
      json{{"fail", json::array({{{"count", 2}, {"code", 429}, {"retry_after", 1}, {"verb", "POST"}}})}});
  int before = server_->count("create");
  TimePoint start = real_clock().now();
  ApiResult<json> created = api.create(configmaps(), "busy", configmap("after-429"));
  Duration took = real_clock().now() - start;
  ASSERT_TRUE(created) << created.error().error.message;
  EXPECT_EQ(server_->count("create") - before, 3);
  EXPECT_GE(took, milliseconds(1900)) << "Retry-After: 1 must be honoured twice";
  EXPECT_EQ(transport->stats().retries, 2u);
}

TEST_F(KubeClient, RetriesGiveUpWithTheLastStatus) {
  ClientOptions options;
  options.max_retries = 1;
  options.backoff_base = milliseconds(1);
  auto transport = connect(*server_, "token", options);
  Api api(*transport);
  server_->control("POST", "/fixture/config",
                   json{{"fail", json::array({{{"count", 5}, {"code", 503}, {"verb", "GET"}}})}});
  ApiResult<json> got = api.get(configmaps(), "default", "x");
  server_->control("POST", "/fixture/config", json{{"fail", json::array()}});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, 503);
  EXPECT_EQ(got.error().error.message,
            "GET /api/v1/namespaces/default/configmaps/x: 503 ServiceUnavailable: injected by the fixture "
            "(after 2 attempts)");
}

TEST_F(KubeClient, ListFollowsContinueTokens) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("pages")));
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(api.create(configmaps(), "pages", configmap(fmt::format("p-{:02}", i))));
  }
  ListOptions options;
  options.limit = 10;
  ApiResult<ListResult> listed = api.list(configmaps(), "pages", options);
  ASSERT_TRUE(listed) << listed.error().error.message;
  EXPECT_EQ(listed->items.size(), 25u);
  EXPECT_EQ(listed->pages, 3);
  std::set<std::string> names;
  for (const json& item : listed->items) {
    names.insert(item["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(names.size(), 25u);
  options.label_selector = "kubeproof.io/run=other";
  ApiResult<ListResult> none = api.list(configmaps(), "pages", options);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
}

// A continue token that outlived etcd's compaction (410 Expired): a consistent list starts again from the
// first page; a list that allows it goes on with the 410's inconsistent token; a server that expires every
// token ends the list with the 410 after kMaxListRestarts.
TEST_F(KubeClient, AnExpiredContinueTokenRestartsTheListOrGoesOnInconsistently) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("expire")));
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(api.create(configmaps(), "expire", configmap(fmt::format("e-{:02}", i))));
  }
  auto names_of = [](const ListResult& listed) {
    std::set<std::string> names;
    for (const json& item : listed.items) {
      names.insert(item["metadata"]["name"].get<std::string>());
    }
    return names;
  };
  ListOptions options;
  options.limit = 10;
  int lists_before = server_->count("list");
  server_->control("POST", "/fixture/config", json{{"expire_continue", 1}});
  ApiResult<ListResult> restarted = api.list(configmaps(), "expire", options);
  ASSERT_TRUE(restarted) << restarted.error().error.message;
  EXPECT_EQ(restarted->restarts, 1);
  EXPECT_FALSE(restarted->inconsistent);
  EXPECT_EQ(restarted->items.size(), 25u) << "the first page must not be kept twice";
  EXPECT_EQ(names_of(*restarted).size(), 25u);
  EXPECT_EQ(restarted->pages, 3);
  // page 1, page 2 (410), then pages 1..3 again
  EXPECT_EQ(server_->count("list") - lists_before, 5);

  options.allow_inconsistent = true;
  lists_before = server_->count("list");
  server_->control("POST", "/fixture/config", json{{"expire_continue", 1}});
  ApiResult<ListResult> inconsistent = api.list(configmaps(), "expire", options);
  ASSERT_TRUE(inconsistent) << inconsistent.error().error.message;
  EXPECT_TRUE(inconsistent->inconsistent);
  EXPECT_EQ(inconsistent->restarts, 0);
  EXPECT_EQ(names_of(*inconsistent).size(), 25u);
  EXPECT_EQ(inconsistent->items.size(), 25u) << "the inconsistent token goes on where the expired one was";
  // page 1, page 2 (410), page 2 and 3 with the inconsistent token
  EXPECT_EQ(server_->count("list") - lists_before, 4);

  options.allow_inconsistent = false;
  server_->control("POST", "/fixture/config", json{{"expire_continue", 100}});
  ApiResult<ListResult> gone = api.list(configmaps(), "expire", options);
  server_->control("POST", "/fixture/config", json{{"expire_continue", 0}});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, 410);
  EXPECT_EQ(gone.error().reason, "Expired");
  EXPECT_FALSE(gone.error().continue_token.empty());
}

TEST_F(KubeClient, WatchDeliversEventsAndBookmarks) {
  server_->control("POST", "/fixture/config", json{{"bookmark_interval_ms", 100}});
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("watch")));
  ApiResult<ListResult> listed = api.list(configmaps(), "watch");
  ASSERT_TRUE(listed);
  WatchOptions options;
  options.resource_version = listed->resource_version;
  auto stream = WatchStream::open(*transport, real_clock(), configmaps(), "watch", options);
  ASSERT_TRUE(api.create(configmaps(), "watch", configmap("w1")));
  ASSERT_TRUE(api.patch(configmaps(), "watch", "w1", json{{"data", {{"value", "2"}}}}));
  ASSERT_TRUE(api.remove(configmaps(), "watch", "w1"));
  std::vector<WatchEvent::Type> types;
  int bookmarks = 0;
  TimePoint deadline = real_clock().now() + seconds(10);
  while ((types.size() < 3 || bookmarks == 0) && real_clock().now() < deadline) {
    ApiResult<WatchStream::Next> next = stream->next(deadline);
    ASSERT_TRUE(next) << next.error().error.message;
    if (next->status != WatchStream::Status::event) {
      continue;
    }
    if (next->event.type == WatchEvent::Type::bookmark) {
      ++bookmarks;
    } else {
      types.push_back(next->event.type);
    }
  }
  EXPECT_EQ(types, (std::vector<WatchEvent::Type>{WatchEvent::Type::added, WatchEvent::Type::modified,
                                                  WatchEvent::Type::deleted}));
  EXPECT_GT(bookmarks, 0);
}

// A watch on which nothing arrives (no events, no bookmarks: as from a connection that died silently) is cut
// after its stall timeout, and a new one from the last resourceVersion read misses nothing.
TEST_F(KubeClient, AStalledWatchIsCutAndResumesFromItsResourceVersion) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("stall")));
  ApiResult<ListResult> listed = api.list(configmaps(), "stall");
  ASSERT_TRUE(listed);
  WatchOptions options;
  options.resource_version = listed->resource_version;
  options.bookmarks = false;
  options.timeout_seconds = 60;
  options.stall_timeout = seconds(2);
  auto stream = WatchStream::open(*transport, real_clock(), configmaps(), "stall", options);
  ASSERT_TRUE(api.create(configmaps(), "stall", configmap("s1")));
  ApiResult<WatchStream::Next> first = stream->next(real_clock().now() + seconds(10));
  ASSERT_TRUE(first) << first.error().error.message;
  ASSERT_EQ(first->status, WatchStream::Status::event);
  EXPECT_EQ(first->event.object["metadata"]["name"], "s1");

  const TimePoint quiet = real_clock().now();
  ApiResult<WatchStream::Next> cut = stream->next(quiet + seconds(30));
  ASSERT_FALSE(cut) << "the stream stayed open for 30 s with nothing on it";
  EXPECT_EQ(cut.error().error.kind, ErrorKind::timeout) << cut.error().error.message;
  EXPECT_GE(real_clock().now() - quiet, milliseconds(1500));
  EXPECT_LT(real_clock().now() - quiet, seconds(10));

  // Changed while no watch ran: the next watch from the last resourceVersion read delivers it.
  ASSERT_TRUE(api.create(configmaps(), "stall", configmap("s2")));
  options.resource_version = stream->resource_version();
  stream = WatchStream::open(*transport, real_clock(), configmaps(), "stall", options);
  ApiResult<WatchStream::Next> resumed = stream->next(real_clock().now() + seconds(10));
  ASSERT_TRUE(resumed) << resumed.error().error.message;
  ASSERT_EQ(resumed->status, WatchStream::Status::event);
  EXPECT_EQ(resumed->event.type, WatchEvent::Type::added);
  EXPECT_EQ(resumed->event.object["metadata"]["name"], "s2") << "s1 again would be a duplicate";
}

TEST_F(KubeClient, WatchFromACompactedVersionIsGone) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("gone")));
  ApiResult<ListResult> listed = api.list(configmaps(), "gone");
  ASSERT_TRUE(listed);
  ASSERT_TRUE(api.create(configmaps(), "gone", configmap("g1")));
  server_->control("POST", "/fixture/compact");
  WatchOptions options;
  options.resource_version = listed->resource_version;
  auto stream = WatchStream::open(*transport, real_clock(), configmaps(), "gone", options);
  ApiResult<WatchStream::Next> next = stream->next(real_clock().now() + seconds(10));
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, 410);
  EXPECT_EQ(next.error().reason, "Expired");
}

TEST_F(KubeClient, ReflectorRelistsAfter410AndMissesNothing) {
  auto transport = connect(*server_);
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("reflect")));
  std::mutex mutex;
  std::set<std::string> seen;
  Reflector reflector(*transport, real_clock(), configmaps(), "reflect", "", [&](const WatchEvent& event) {
    std::lock_guard lock(mutex);
    seen.insert(event.object["metadata"]["name"].get<std::string>());
  });
  reflector.start();
  ASSERT_TRUE(reflector.wait_synced(real_clock().now() + seconds(10)));
  ASSERT_TRUE(api.create(configmaps(), "reflect", configmap("r1")));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return seen.contains("r1");
  }));
  // Compact the history and end the running watch: the reflector's re-watch from its last resourceVersion
  // gets an ERROR 410, so it lists again and watches from the new list.
  server_->control("POST", "/fixture/compact");
  server_->control("POST", "/fixture/close-watches");
  ASSERT_TRUE(api.create(configmaps(), "reflect", configmap("r2")));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return seen.contains("r2") && reflector.gone() >= 1;
  })) << "gone="
      << reflector.gone() << " lists=" << reflector.lists() << " " << reflector.last_error();
  EXPECT_GE(reflector.lists(), 2);
  reflector.stop();
}

TEST_F(KubeClient, GarbledAndTruncatedResponsesAreProtocolErrors) {
  auto transport = connect(*server_);
  Api api(*transport);
  server_->control("POST", "/fixture/config",
                   json{{"garble", json::array({{{"count", 1}, {"mode", "truncate"}, {"verb", "LIST"}}})}});
  ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().error.kind, ErrorKind::protocol);
  EXPECT_EQ(listed.error().error.message,
            "GET /api/v1/namespaces?limit=500: 200 a body that is not a JSON object (truncated or garbled "
            "response?)");
  server_->control("POST", "/fixture/config",
                   json{{"garble", json::array({{{"count", 1}, {"mode", "close"}, {"verb", "LIST"}}})}});
  ApiResult<ListResult> cut = api.list(namespaces_resource(), "");
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().error.kind, ErrorKind::network);
  EXPECT_NE(cut.error().error.message.find("GET https://127.0.0.1:"), std::string::npos)
      << cut.error().error.message;
}

TEST_F(KubeClient, ExecPluginIsCachedUntilExpiryAndRerunOn401) {
  std::filesystem::path dir = server_->dir();
  std::filesystem::path token_file = dir / "exec-token";
  std::filesystem::path runs_file = dir / "exec-runs";
  std::ofstream(token_file) << "exec-token-1";
  std::filesystem::path plugin = dir / "plugin.sh";
  {
    std::ofstream script(plugin);
    script << "#!/bin/sh\n"
           << "echo run >> '" << runs_file.string() << "'\n"
           << "test \"$(echo \"$KUBERNETES_EXEC_INFO\" | grep -c '\"interactive\":false')\" = 1 || exit 3\n"
           << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
              "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2200-01-01T00:00:00Z\"}}' \"$(cat '"
           << token_file.string() << "')\"\n";
  }
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token", "exec-token-1"}}});
  Result<RestConfig> config = server_->rest_config();
  ASSERT_TRUE(config);
  config->token.clear();
  config->exec = ExecConfig{};
  config->exec->command = plugin.string();
  config->exec->api_version = "client.authentication.k8s.io/v1";
  auto transport = std::move(*Transport::create(*config, {}, real_clock()));
  Api api(*transport);
  for (int i = 0; i < 3; ++i) {
    ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
    ASSERT_TRUE(listed) << listed.error().error.message;
  }
  EXPECT_EQ(transport->credentials().exec_runs(), 1);
  // Rotate: the server stops accepting the old token; the next request gets 401, re-runs the plugin once.
  std::ofstream(token_file) << "exec-token-2";
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token", "exec-token-2"}}});
  ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
  ASSERT_TRUE(listed) << listed.error().error.message;
  EXPECT_EQ(transport->credentials().exec_runs(), 2);
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token"}}});
}

// An exec plugin that is slow to refresh (here: it blocks until the test lets it go) must not stall the
// transport: a watch already open keeps delivering events and other requests complete while it runs; the
// request that needs the new token waits for it and then succeeds.
TEST_F(KubeClient, ASlowExecPluginDoesNotStallRequestsInFlight) {
  std::filesystem::path dir = server_->dir();
  std::filesystem::path token_file = dir / "slow-token";
  std::filesystem::path runs_file = dir / "slow-runs";
  std::filesystem::path gate = dir / "slow-gate";
  std::filesystem::remove(runs_file);
  std::filesystem::remove(gate);
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
  std::ofstream(token_file) << "slow-token-1";
  std::filesystem::path plugin = dir / "slow-plugin.sh";
  {
    // Every run after the first waits for a line on the FIFO: the test decides when the refresh ends.
    std::ofstream script(plugin);
    script << "#!/bin/sh\n"
           << "if [ -s '" << runs_file.string() << "' ]; then echo run >> '" << runs_file.string()
           << "'; read line < '" << gate.string() << "'; else echo run >> '" << runs_file.string()
           << "'; fi\n"
           << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
              "\"status\":{\"token\":\"%s\"}}' \"$(cat '"
           << token_file.string() << "')\"\n";
  }
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token", "slow-token-1"}}});
  Result<RestConfig> config = server_->rest_config();
  ASSERT_TRUE(config);
  config->token.clear();
  config->exec = ExecConfig{};
  config->exec->command = plugin.string();
  config->exec->api_version = "client.authentication.k8s.io/v1";
  auto transport = std::move(*Transport::create(*config, {}, real_clock()));
  Api api(*transport);
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object("slowexec")));
  auto stream = WatchStream::open(*transport, real_clock(), configmaps(), "slowexec", WatchOptions{});
  auto other = connect(*server_);  // the static token: another client, to make changes while the plugin runs
  Api other_api(*other);
  ASSERT_TRUE(other_api.create(configmaps(), "slowexec", configmap("before")));
  // The next object's name. A BOOKMARK may come at any time (the API sends them when it likes, more often
  // under a slow client: found under ThreadSanitizer); it names no object and is skipped.
  auto next_name = [&]() -> std::string {
    const TimePoint deadline = real_clock().now() + seconds(10);
    while (true) {
      ApiResult<WatchStream::Next> next = stream->next(deadline);
      if (!next || next->status != WatchStream::Status::event) {
        return next ? "(no event)" : next.error().error.message;
      }
      if (next->event.type == WatchEvent::Type::bookmark) {
        continue;
      }
      const json name = next->event.object.value(json::json_pointer("/metadata/name"), json());
      return name.is_string()
                 ? name.get<std::string>()
                 : fmt::format("({} event: {})", to_string(next->event.type), next->event.object.dump());
    }
  };
  ASSERT_EQ(next_name(), "before");

  // Rotate: the old token is refused, so the next request gets 401 and the plugin runs again, and blocks.
  std::ofstream(token_file) << "slow-token-2";
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token", "slow-token-2"}}});
  // Shared with the callback: an assertion below that fails returns before the transport is destroyed, and
  // the transport still answers the request (with an error) on its thread.
  auto answered = std::make_shared<std::promise<Result<Response>>>();
  std::future<Result<Response>> answer = answered->get_future();
  Request request;
  request.path = "/api/v1/namespaces/slowexec/configmaps";
  transport->submit(request,
                    [answered](Result<Response> response) { answered->set_value(std::move(response)); });
  ASSERT_TRUE(eventually([&] {
    std::ifstream runs(runs_file);
    std::string line;
    int count = 0;
    while (std::getline(runs, line)) {
      ++count;
    }
    return count >= 2;
  })) << "the 401 did not re-run the plugin";
  // While the plugin blocks: the open watch still delivers, and the waiting request has not finished.
  ASSERT_TRUE(other_api.create(configmaps(), "slowexec", configmap("during")));
  EXPECT_EQ(next_name(), "during") << "the watch stalled while the exec plugin ran";
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "the request needing the new token finished before the plugin did";
  // Let the plugin finish: the waiting request goes on with the new token.
  ASSERT_TRUE(eventually([&] {
    int fd = open(gate.c_str(), O_WRONLY | O_NONBLOCK);  // ENXIO until the plugin opened the FIFO
    if (fd < 0) {
      return false;
    }
    bool written = write(fd, "go\n", 3) == 3;
    close(fd);
    return written;
  }));
  ASSERT_EQ(answer.wait_for(seconds(20)), std::future_status::ready);
  Result<Response> response = answer.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(transport->credentials().exec_runs(), 2);
  stream.reset();
  server_->control("POST", "/fixture/tokens", json{{"tokens", {"kubeproof-test-token"}}});
}

// The fixture's kubeconfig with clusters[0].cluster.proxy-url set, as a new file; its RestConfig.
Result<RestConfig> with_proxy_url(FakeApiserver& server, const std::string& proxy_url) {
  std::ifstream in(server.kubeconfig());
  json config = json::parse(in);  // the fixture writes JSON, which is YAML
  config["clusters"][0]["cluster"]["proxy-url"] = proxy_url;
  std::filesystem::path path = server.dir() / "kubeconfig-proxy";
  std::ofstream(path) << config.dump(1);
  LoadOptions options;
  options.kubeconfig = path;
  options.context = "token";
  return load_rest_config(options);
}

// proxy-url through a real proxy on loopback: every request goes through its tunnel (the proxy's own log
// says so), over CONNECT for http:// and SOCKS5 for socks5://, with the server's TLS kept end to end.
TEST_F(KubeClient, ProxyUrlTunnelsThroughHttpConnectAndSocks5Proxies) {
  testing::ConnectProxy proxy(server_->dir());
  ASSERT_TRUE(proxy.ok()) << "the proxy did not start";
  const std::string target = fmt::format("127.0.0.1:{}", server_->port());
  for (const std::string scheme : {"http", "socks5"}) {
    SCOPED_TRACE(scheme);
    const std::size_t tunnels_before = proxy.tunnels().size();
    Result<RestConfig> config =
        with_proxy_url(*server_, fmt::format("{}://127.0.0.1:{}", scheme, proxy.port()));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->proxy_url, fmt::format("{}://127.0.0.1:{}", scheme, proxy.port()));
    auto transport = std::move(*Transport::create(*config, {}, real_clock()));
    Api api(*transport);
    ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
    ASSERT_TRUE(listed) << listed.error().error.message;
    std::vector<std::string> tunnels = proxy.tunnels();
    ASSERT_GT(tunnels.size(), tunnels_before) << "the request did not go through the proxy";
    EXPECT_EQ(tunnels.back(), fmt::format("{} {}", scheme == "http" ? "CONNECT" : "SOCKS5", target));
  }
  // A proxy that is not there: the request fails naming the connection, it does not go around the proxy.
  Result<RestConfig> dead = with_proxy_url(*server_, "http://127.0.0.1:1");
  ASSERT_TRUE(dead);
  ClientOptions options;
  options.max_retries = 0;
  auto transport = std::move(*Transport::create(*dead, options, real_clock()));
  Api api(*transport);
  ApiResult<ListResult> listed = api.list(namespaces_resource(), "");
  ASSERT_FALSE(listed) << "a dead proxy must fail the request";
  EXPECT_EQ(listed.error().error.kind, ErrorKind::network) << listed.error().error.message;
}

TEST(KubeClientDeadEndpoint, RefusedConnectionIsAClearErrorInBoundedTime) {
  RestConfig config;
  config.server = "https://127.0.0.1:1";  // nothing listens on port 1
  config.insecure_skip_tls_verify = true;
  ClientOptions options;
  options.connect_timeout = seconds(2);
  options.backoff_base = milliseconds(10);
  std::string warning;
  options.warn = [&](std::string_view text) { warning = std::string(text); };
  auto transport = std::move(*Transport::create(config, options, real_clock()));
  EXPECT_NE(warning.find("WARNING: insecure-skip-tls-verify"), std::string::npos);
  Api api(*transport);
  TimePoint start = real_clock().now();
  ApiResult<std::string> version = api.get_text("/version");
  ASSERT_FALSE(version);
  EXPECT_LT(real_clock().now() - start, seconds(5));
  EXPECT_EQ(version.error().error.kind, ErrorKind::network);
  EXPECT_TRUE(version.error().error.message.starts_with("GET https://127.0.0.1:1/version: "))
      << version.error().error.message;
}

TEST(KubeClientDeadEndpoint, SilentServerTimesOut) {
  // A listener that accepts and never answers: the request timeout bounds the call.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  RestConfig config;
  config.server = fmt::format("http://127.0.0.1:{}", ntohs(address.sin_port));
  ClientOptions options;
  options.request_timeout = milliseconds(500);
  auto transport = std::move(*Transport::create(config, options, real_clock()));
  Api api(*transport);
  TimePoint start = real_clock().now();
  ApiResult<std::string> version = api.get_text("/version", milliseconds(500));
  close(listener);
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().error.kind, ErrorKind::timeout);
  EXPECT_LT(real_clock().now() - start, seconds(3));
}

// What `binary --version` prints ("Kubernetes v1.31.0" for a real server; our test double says otherwise).
std::string version_of(const std::filesystem::path& binary) {
  std::string command = fmt::format("'{}' --version 2>&1", binary.string());
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), &pclose);
  std::string output;
  if (pipe) {
    char buffer[256];
    while (fgets(buffer, sizeof buffer, pipe.get()) != nullptr) {
      output += buffer;
    }
  }
  return output;
}

// The client against a real kube-apiserver (and etcd) from $KUBEBUILDER_ASSETS, started by the lab code as
// `kubeproof lab up` starts them: the calls whose semantics the fixture only imitates.
TEST(KubeClientRealApiserver, CrudAgainstKubeApiserver) {
  const char* assets = std::getenv("KUBEBUILDER_ASSETS");
  if (assets == nullptr || *assets == '\0') {
    GTEST_SKIP()
        << "KUBEBUILDER_ASSETS is not set: no real kube-apiserver to test against (the fixture variants ran)";
  }
  const std::filesystem::path binary = std::filesystem::path(assets) / "kube-apiserver";
  if (!lab::find_executable(binary.string())) {
    GTEST_SKIP() << "KUBEBUILDER_ASSETS=" << assets << " has no executable kube-apiserver";
  }
  if (std::string version = version_of(binary); version.find("Kubernetes v1.") == std::string::npos) {
    GTEST_SKIP() << binary << " is not a real kube-apiserver (--version: " << version
                 << "); the lab's integration test covers the test double";
  }
  lab::LabOptions options;
  options.state_dir = std::filesystem::temp_directory_path() / fmt::format("kp-real-apiserver-{}", getpid());
  options.services = {"etcd", "kube-apiserver"};
  options.health_timeout = seconds(90);
  // envtest's assets carry their own etcd; otherwise the Debian one on PATH.
  if (auto etcd = lab::find_executable((std::filesystem::path(assets) / "etcd").string())) {
    options.binaries["etcd"] = *etcd;
  }
  Result<std::vector<lab::ServiceRecord>> started = lab::up(options, real_clock());
  ASSERT_TRUE(started) << started.error().message;
  struct Down {
    std::filesystem::path dir;
    ~Down() { (void)lab::down(dir, real_clock()); }
  } down{options.state_dir};
  const lab::ServiceRecord& apiserver = started->back();
  ASSERT_EQ(apiserver.name, "kube-apiserver");

  LoadOptions load;
  load.kubeconfig = apiserver.endpoints.at("kubeconfig");
  Result<RestConfig> config = load_rest_config(load);
  ASSERT_TRUE(config) << config.error().message;
  Result<std::unique_ptr<Transport>> transport = Transport::create(*config, ClientOptions{}, real_clock());
  ASSERT_TRUE(transport) << transport.error().message;
  Api api(**transport);
  ApiResult<std::string> version = api.get_text("/version");
  ASSERT_TRUE(version) << version.error().error.message;
  EXPECT_NE(version->find("gitVersion"), std::string::npos) << *version;

  const std::string ns = fmt::format("kp-real-{}", getpid());
  ASSERT_TRUE(api.create(namespaces_resource(), "", ns_object(ns)));
  ApiResult<ListResult> before = api.list(configmaps(), ns);
  ASSERT_TRUE(before) << before.error().error.message;
  const std::size_t preexisting = before->items.size();  // kube-root-ca.crt once the controller manager runs

  // A watch from the list's resourceVersion sees exactly what happens after it.
  WatchOptions watch_options;
  watch_options.resource_version = before->resource_version;
  auto stream = WatchStream::open(**transport, real_clock(), configmaps(), ns, watch_options);

  for (int i = 0; i < 5; ++i) {
    ApiResult<json> created = api.create(configmaps(), ns, configmap(fmt::format("cm-{}", i)));
    ASSERT_TRUE(created) << created.error().error.message;
  }
  ApiResult<json> duplicate = api.create(configmaps(), ns, configmap("cm-0"));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, 409);
  EXPECT_EQ(duplicate.error().reason, "AlreadyExists");
  ApiResult<json> missing = api.get(configmaps(), ns, "no-such-configmap");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 404);
  EXPECT_EQ(missing.error().reason, "NotFound");

  ListOptions paged;
  paged.limit = 2;
  ApiResult<ListResult> listed = api.list(configmaps(), ns, paged);
  ASSERT_TRUE(listed) << listed.error().error.message;
  EXPECT_EQ(listed->items.size(), preexisting + 5);
  EXPECT_GE(listed->pages, 3);
  ListOptions selected;
  selected.label_selector = "kubeproof.io/run=it";
  ApiResult<ListResult> labelled = api.list(configmaps(), ns, selected);
  ASSERT_TRUE(labelled);
  EXPECT_EQ(labelled->items.size(), 5u);

  ApiResult<json> patched =
      api.patch(configmaps(), ns, "cm-1", json{{"data", {{"value", "patched"}}}}, PatchType::strategic_merge);
  ASSERT_TRUE(patched) << patched.error().error.message;
  EXPECT_EQ((*patched)["data"].value("value", ""), "patched");
  ApiResult<json> got = api.get(configmaps(), ns, "cm-1");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"].value("value", ""), "patched");
  ASSERT_TRUE(api.remove(configmaps(), ns, "cm-2"));
  ApiResult<json> gone = api.get(configmaps(), ns, "cm-2");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, 404);

  std::vector<WatchEvent::Type> types;
  TimePoint deadline = real_clock().now() + seconds(20);
  while (types.size() < 7 && real_clock().now() < deadline) {
    ApiResult<WatchStream::Next> next = stream->next(deadline);
    ASSERT_TRUE(next) << next.error().error.message;
    if (next->status == WatchStream::Status::closed) {
      break;
    }
    if (next->status == WatchStream::Status::event && next->event.type != WatchEvent::Type::bookmark) {
      types.push_back(next->event.type);
    }
  }
  using T = WatchEvent::Type;
  EXPECT_EQ(types,
            (std::vector<T>{T::added, T::added, T::added, T::added, T::added, T::modified, T::deleted}));
  stream->stop();
  ASSERT_TRUE(api.remove(namespaces_resource(), "", ns));
}

}  // namespace
}  // namespace kp::kube
