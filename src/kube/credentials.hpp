#pragma once

// The user's credentials for requests: a static token, a tokenFile (re-read when the server says 401, since
// projected service-account tokens rotate), client certificates, or an exec credential plugin
// (client.authentication.k8s.io/v1 or v1beta1 ExecCredential), whose output is cached until its
// expirationTimestamp and dropped when the server answers 401 (client-go's behaviour; that is how EKS, GKE
// and AKS users authenticate). Thread-safe. Nothing here puts a secret into an error message.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "kube/kubeconfig.hpp"

namespace kp::kube {

struct Credentials {
  std::string token;     // bearer token, "" when none
  std::string cert_pem;  // client certificate from an exec plugin (PEM), "" when none
  std::string key_pem;
  std::optional<WallTime> expiry;  // exec credentials only
  std::uint64_t generation = 0;    // changes whenever the credentials are re-read
};

// Parses a plugin's stdout. Errors say what is wrong without echoing the document (it holds the secret).
Result<Credentials> parse_exec_credential(std::string_view json, std::string_view expected_api_version);

// Runs the plugin (stdin from /dev/null, KUBERNETES_EXEC_INFO set, spec.interactive false) bounded by
// `timeout` and parses its output. When `abandoned` turns true the plugin is killed and ErrorKind::cancelled
// returned within kAbandonCheck: its caller is going away and nobody waits for the credentials.
Result<Credentials> run_exec_plugin(const ExecConfig& exec, const RestConfig& cluster, Duration timeout,
                                    const std::atomic<bool>* abandoned = nullptr);
inline constexpr Duration kAbandonCheck = std::chrono::milliseconds(250);

class CredentialSource {
 public:
  CredentialSource(RestConfig config, Clock& clock, Duration exec_timeout = std::chrono::seconds(60));

  // The credentials to use now; runs the exec plugin (or re-reads the token file) when there is no unexpired
  // cached credential. Blocks for as long as the plugin runs (up to exec_timeout): never call it from a
  // thread that others wait on (the transport calls cached() on its I/O thread and this on a helper thread).
  // Concurrent callers wait for one run rather than start their own.
  Result<Credentials> current();
  // The unexpired cached credentials, without blocking on a plugin run in progress; nullopt when current()
  // has to run (the first request, an expired exec credential, after invalidate()).
  std::optional<Credentials> cached() const;
  // A request made with credentials of `generation` got 401: forget them so the next current() re-reads the
  // token file or re-runs the plugin (once per generation, however many requests saw the 401).
  void invalidate(std::uint64_t generation);
  // True when invalidate() can produce different credentials (exec plugin or token file).
  bool refreshable() const { return config_.exec.has_value() || !config_.token_file.empty(); }
  // How many times the exec plugin ran (tests check the caching).
  int exec_runs() const;
  // For the owner's destructor (any thread): a plugin running now is killed within kAbandonCheck and its
  // current() returns ErrorKind::cancelled, as does every later call that would run it, so closing a client
  // does not wait for a slow plugin (up to exec_timeout).
  void abandon() { abandoned_.store(true); }

 private:
  bool fresh(const Credentials& credentials) const;

  RestConfig config_;
  Clock& clock_;
  Duration exec_timeout_;
  std::mutex refresh_mutex_;  // one plugin run (or token file read) at a time; held while it runs
  mutable std::mutex mutex_;  // guards the fields below; never held while the plugin runs
  std::optional<Credentials> cached_;
  std::uint64_t generation_ = 0;
  int exec_runs_ = 0;
  std::atomic<bool> abandoned_{false};  // read by the plugin's wait a few times a second, never per request
};

}  // namespace kp::kube
