#include "drivers/net/protocol.hpp"

#include <endian.h>

#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::net {
namespace {

using nlohmann::json;

std::unexpected<Error> bad(std::string message) {
  return fail(ErrorKind::protocol, std::move(message));
}

// What an error echoes of a peer's bytes: short, and printable.
std::string excerpt(std::string_view text) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    out.push_back(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f ? c : '?');
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return out;
}

Result<std::uint64_t> get_count(const json& object, std::string_view where, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_number_unsigned()) {
    return bad(fmt::format("{}.{}: must be a whole number >= 0", where, key));
  }
  return found->get<std::uint64_t>();
}

// A time in nanoseconds: at most 1e17 (three years, longer than any test), so that it fits a Duration and
// sums of a few such times do too.
Result<Duration> get_nanoseconds(const json& object, std::string_view where, std::string_view key) {
  constexpr std::uint64_t kMax = 100'000'000'000'000'000;
  Result<std::uint64_t> value = get_count(object, where, key);
  if (value && *value > kMax) {
    return bad(fmt::format("{}.{}: must be at most {} ns, got {}", where, key, kMax, *value));
  }
  if (!value) {
    return std::unexpected(value.error());
  }
  return Duration(static_cast<std::int64_t>(*value));
}

json report_to_json(const ServerReport& r) {
  return json{{"bytes_received", r.bytes_received},
              {"window_bytes_received", r.window_bytes_received},
              {"window_ns", r.window.count()},
              {"packets_received", r.packets_received},
              {"window_packets_received", r.window_packets_received},
              {"transactions", r.transactions},
              {"connections", r.connections},
              {"cpu_user_ns", r.cpu_user.count()},
              {"cpu_system_ns", r.cpu_system.count()},
              {"per_second_bytes", r.per_second_bytes}};
}

Result<ServerReport> report_from_json(const json& object) {
  if (!object.is_object()) {
    return bad("result.report: must be an object");
  }
  ServerReport r;
  struct Field {
    std::string_view key;
    std::uint64_t* target;
  };
  for (Field field :
       {Field{"bytes_received", &r.bytes_received}, Field{"window_bytes_received", &r.window_bytes_received},
        Field{"packets_received", &r.packets_received},
        Field{"window_packets_received", &r.window_packets_received}, Field{"transactions", &r.transactions},
        Field{"connections", &r.connections}}) {
    Result<std::uint64_t> value = get_count(object, "result.report", field.key);
    if (!value) {
      return std::unexpected(value.error());
    }
    *field.target = *value;
  }
  for (auto [key, target] : {std::pair<std::string_view, Duration*>{"window_ns", &r.window},
                             {"cpu_user_ns", &r.cpu_user},
                             {"cpu_system_ns", &r.cpu_system}}) {
    Result<Duration> value = get_nanoseconds(object, "result.report", key);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  auto seconds = object.find("per_second_bytes");
  if (seconds == object.end() || !seconds->is_array()) {
    return bad("result.report.per_second_bytes: must be a list");
  }
  for (const json& item : *seconds) {
    if (!item.is_number_unsigned()) {
      return bad("result.report.per_second_bytes: must hold whole numbers");
    }
    r.per_second_bytes.push_back(item.get<std::uint64_t>());
  }
  return r;
}

Result<void> check_version(const json& object, std::string_view type) {
  auto version = object.find("version");
  if (version == object.end() || !version->is_number_integer()) {
    return bad(fmt::format("{}: missing protocol version", type));
  }
  if (version->get<long long>() != kProtocolVersion) {
    return bad(fmt::format("{}: protocol version {} is not supported (this agent speaks {})", type,
                           version->dump(), kProtocolVersion));
  }
  return {};
}

Result<ControlMessage> decode_object(const json& object) {
  auto type = object.find("type");
  if (type == object.end() || !type->is_string()) {
    return bad("control message has no \"type\"");
  }
  const std::string name = type->get<std::string>();
  if (name == "hello") {
    if (Result<void> ok = check_version(object, name); !ok) {
      return std::unexpected(ok.error());
    }
    auto test = object.find("test");
    if (test == object.end()) {
      return bad("hello: missing \"test\"");
    }
    Result<TestSpec> spec = spec_from_json(*test);
    if (!spec) {
      return bad("hello: " + spec.error().message);
    }
    return HelloMessage{*spec};
  }
  if (name == "ready") {
    if (Result<void> ok = check_version(object, name); !ok) {
      return std::unexpected(ok.error());
    }
    Result<std::uint64_t> session = get_count(object, "ready", "session");
    if (!session) {
      return std::unexpected(session.error());
    }
    Result<Duration> hold = get_nanoseconds(object, "ready", "hold_ns");
    if (!hold) {
      return std::unexpected(hold.error());
    }
    return ReadyMessage{*session, *hold};
  }
  if (name == "mark") {
    auto mark = object.find("name");
    if (mark != object.end() && *mark == "measure_start") {
      return MarkMessage{MarkName::measure_start};
    }
    if (mark != object.end() && *mark == "measure_end") {
      return MarkMessage{MarkName::measure_end};
    }
    return bad("mark: \"name\" must be \"measure_start\" or \"measure_end\"");
  }
  if (name == "done") {
    return DoneMessage{};
  }
  if (name == "result") {
    auto report = object.find("report");
    if (report == object.end()) {
      return bad("result: missing \"report\"");
    }
    Result<ServerReport> parsed = report_from_json(*report);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    return ResultMessage{*parsed};
  }
  if (name == "error") {
    auto message = object.find("message");
    if (message == object.end() || !message->is_string()) {
      return bad("error: missing \"message\"");
    }
    return ErrorMessage{message->get<std::string>()};
  }
  return bad(
      fmt::format("control message type \"{}\" is unknown (expected hello, ready, mark, done, result, error)",
                  excerpt(name)));
}

void put_be32(char* out, std::uint32_t value) {
  value = htobe32(value);
  std::memcpy(out, &value, sizeof value);
}
void put_be16(char* out, std::uint16_t value) {
  value = htobe16(value);
  std::memcpy(out, &value, sizeof value);
}
void put_be64(char* out, std::uint64_t value) {
  value = htobe64(value);
  std::memcpy(out, &value, sizeof value);
}
std::uint32_t get_be32(const char* in) {
  std::uint32_t value = 0;
  std::memcpy(&value, in, sizeof value);
  return be32toh(value);
}
std::uint16_t get_be16(const char* in) {
  std::uint16_t value = 0;
  std::memcpy(&value, in, sizeof value);
  return be16toh(value);
}
std::uint64_t get_be64(const char* in) {
  std::uint64_t value = 0;
  std::memcpy(&value, in, sizeof value);
  return be64toh(value);
}

}  // namespace

Result<std::optional<std::string>> LineReader::next_line() {
  const std::size_t newline = buffer_.find('\n', consumed_ + scanned_);
  if (newline == std::string::npos) {
    scanned_ = buffer_.size() - consumed_;
    if (scanned_ > max_line_) {
      return bad(fmt::format("control message longer than {} bytes without a newline", max_line_));
    }
    return std::optional<std::string>{};
  }
  if (newline - consumed_ > max_line_) {
    return bad(fmt::format("control message longer than {} bytes", max_line_));
  }
  std::string line = buffer_.substr(consumed_, newline - consumed_);
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  consumed_ = newline + 1;
  scanned_ = 0;
  // Compact once the returned lines dominate, so a long session does not grow the buffer.
  if (consumed_ > 4096 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return std::optional<std::string>(std::move(line));
}

std::string encode(const ControlMessage& message) {
  json object = std::visit(
      [](const auto& m) -> json {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, HelloMessage>) {
          return json{{"type", "hello"}, {"version", kProtocolVersion}, {"test", to_json(m.spec)}};
        } else if constexpr (std::is_same_v<T, ReadyMessage>) {
          return json{{"type", "ready"},
                      {"version", kProtocolVersion},
                      {"session", m.session},
                      {"hold_ns", m.hold.count()}};
        } else if constexpr (std::is_same_v<T, MarkMessage>) {
          return json{{"type", "mark"},
                      {"name", m.name == MarkName::measure_start ? "measure_start" : "measure_end"}};
        } else if constexpr (std::is_same_v<T, DoneMessage>) {
          return json{{"type", "done"}};
        } else if constexpr (std::is_same_v<T, ResultMessage>) {
          return json{{"type", "result"}, {"report", report_to_json(m.report)}};
        } else {
          return json{{"type", "error"}, {"message", m.message}};
        }
      },
      message);
  // Replace, not throw, on invalid UTF-8 in an error text: the line must always go out.
  return object.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<ControlMessage> decode(std::string_view line) {
  json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return bad(fmt::format("control message is not JSON: \"{}\"", excerpt(line)));
  }
  if (!object.is_object()) {
    return bad(fmt::format("control message must be a JSON object, got \"{}\"", excerpt(line)));
  }
  try {
    return decode_object(object);
  } catch (const json::exception& e) {
    // The readers check types before get<>(); this is a last guard so a peer's bytes never throw past us.
    return bad(fmt::format("control message: {}", e.what()));
  }
}

std::string_view type_name(const ControlMessage& message) {
  static constexpr std::array<std::string_view, 6> kNames = {"hello", "ready",  "mark",
                                                             "done",  "result", "error"};
  return kNames[message.index()];
}

std::array<char, kDataHeaderSize> encode(const DataHeader& header) {
  std::array<char, kDataHeaderSize> bytes{};
  std::memcpy(bytes.data(), kDataMagic.data(), kDataMagic.size());
  put_be32(bytes.data() + 4, header.stream);
  put_be64(bytes.data() + 8, header.session);
  return bytes;
}

Result<DataHeader> decode_data_header(std::string_view bytes) {
  if (bytes.size() < kDataHeaderSize) {
    return bad(
        fmt::format("data connection: header of {} bytes, expected {}", bytes.size(), kDataHeaderSize));
  }
  if (std::memcmp(bytes.data(), kDataMagic.data(), kDataMagic.size()) != 0) {
    return bad(fmt::format("data connection: bad magic \"{}\"", excerpt(bytes.substr(0, 4))));
  }
  return DataHeader{get_be32(bytes.data() + 4), get_be64(bytes.data() + 8)};
}

void encode_into(const UdpHeader& header, char* buffer) {
  put_be32(buffer, header.token);
  put_be16(buffer + 4, header.stream);
  put_be16(buffer + 6, header.second);
  put_be64(buffer + 8, header.sequence);
}

Result<UdpHeader> decode_udp_header(std::string_view datagram) {
  if (datagram.size() < kUdpHeaderSize) {
    return bad(fmt::format("datagram of {} bytes, shorter than the {}-byte header", datagram.size(),
                           kUdpHeaderSize));
  }
  const char* p = datagram.data();
  return UdpHeader{get_be32(p), get_be16(p + 4), get_be16(p + 6), get_be64(p + 8)};
}

}  // namespace kp::drivers::net
