#pragma once

// A tiny HTTP(S) GET client (libcurl) with a hard timeout, for health checks and /metrics scrapes. One call,
// one connection: scrapes happen twice per phase, so connection reuse would buy nothing.
//
// It lives in src/lab because the lab's health checks are its first user; the drivers use it too.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::http {

// Client TLS for https URLs (all optional; empty = not used). kubeadm's etcd needs all three.
struct TlsFiles {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

struct Response {
  long status = 0;
  std::string body;
};

// GET `url`, the whole exchange bounded by `timeout`. A connection failure or timeout is an error (network or
// timeout) naming the URL; any HTTP status is a Response (the caller decides what it accepts). A non-empty
// `bearer_token` is sent as "Authorization: Bearer" (kube-apiserver's /readyz).
Result<Response> get(std::string_view url, Duration timeout, const TlsFiles& tls = {},
                     std::string_view bearer_token = {});

}  // namespace kp::http
