#pragma once

// Small encodings the Kubernetes API and kubeconfig use: base64 (the `-data` fields) and RFC 3339 timestamps
// (ExecCredential expiry, condition lastTransitionTime, creationTimestamp).

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace kp::kube {

// Standard base64 with padding; whitespace (line breaks in pasted PEM data) is ignored. nullopt when invalid.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

// "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z", "2024-05-01T14:00:00+02:00". nullopt when invalid.
std::optional<WallTime> parse_rfc3339(std::string_view text);
// "2024-05-01T12:00:00Z" (seconds; Kubernetes condition timestamps have second precision).
std::string format_rfc3339(WallTime time);

}  // namespace kp::kube
