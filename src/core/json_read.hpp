#pragma once

// Fields of JSON another process wrote (an API server's answer, an agent's line read from a pod's log),
// read without exceptions: nlohmann's value() and get<>() throw on a wrong type, and a garbled answer must
// be one line naming the field, never a type_error that escapes a phase. An absent or null field reads as
// the fallback; a field of another type is ErrorKind::protocol naming `where`, the field and (the start of)
// the value:
//   SelfSubjectAccessReview answer: status.allowed: must be a boolean, got "yes"
// `where` names the document ("SelfSubjectAccessReview answer", "net-server pod kp-1-network/net-server-0's
// line"); `key` may be a dotted path for the message ("status.allowed") when `object` is that field's parent
// (the last component is the member read).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kp {

// `json` as it appears in a message: its dump, cut to a readable length.
std::string json_excerpt(const nlohmann::json& json);

// The member `key` of `object`: an object (the fallback: empty object), an array (empty array), a string,
// a boolean or an integer. `object` itself must be an object (or null: everything falls back).
Result<nlohmann::json> json_object(const nlohmann::json& object, std::string_view key,
                                   std::string_view where);
Result<nlohmann::json> json_array(const nlohmann::json& object, std::string_view key, std::string_view where);
Result<std::string> json_string(const nlohmann::json& object, std::string_view key, std::string_view where,
                                std::string fallback = {});
Result<bool> json_bool(const nlohmann::json& object, std::string_view key, std::string_view where,
                       bool fallback = false);
Result<std::int64_t> json_int(const nlohmann::json& object, std::string_view key, std::string_view where,
                              std::int64_t fallback = 0);
// An array of strings (absent: empty).
Result<std::vector<std::string>> json_strings(const nlohmann::json& object, std::string_view key,
                                              std::string_view where);

// Lenient forms, for the items of a list where a garbled entry is passed over rather than failing the whole
// (a Service whose name is not a string is not asked for): the member, or null when `object` is not an
// object or has no such member; the text, or `fallback` when absent or not a string.
const nlohmann::json& json_member_or_null(const nlohmann::json& object, std::string_view key);
std::string json_text_or(const nlohmann::json& object, std::string_view key, std::string fallback = {});

}  // namespace kp
