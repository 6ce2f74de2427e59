#include "kube/encoding.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace kp::kube {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) {
    return std::nullopt;
  }
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      clean.push_back(c);
    }
  }
  if (clean.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    std::array<int, 4> v{};
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      char c = clean[i + j];
      if (c == '=') {
        // Padding only at the very end, and only in the last two places.
        if (i + 4 != clean.size() || j < 2) {
          return std::nullopt;
        }
        ++padding;
        v[j] = 0;
        continue;
      }
      if (padding > 0) {
        return std::nullopt;
      }
      v[j] = sextet(c);
      if (v[j] < 0) {
        return std::nullopt;
      }
    }
    unsigned triple = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                      (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out.push_back(static_cast<char>((triple >> 16) & 0xff));
    if (padding < 2) {
      out.push_back(static_cast<char>((triple >> 8) & 0xff));
    }
    if (padding < 1) {
      out.push_back(static_cast<char>(triple & 0xff));
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned triple = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      triple |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    if (i + 2 < bytes.size()) {
      triple |= static_cast<unsigned char>(bytes[i + 2]);
    }
    out.push_back(kAlphabet[(triple >> 18) & 63]);
    out.push_back(kAlphabet[(triple >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(triple >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[triple & 63] : '=');
  }
  return out;
}

std::optional<WallTime> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto year = digits(text, 0, 4);
  auto month = digits(text, 5, 2);
  auto day = digits(text, 8, 2);
  auto hour = digits(text, 11, 2);
  auto minute = digits(text, 14, 2);
  auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text.size() < 20 || text[4] != '-' ||
      text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (text[at] == '.') {
    ++at;
    int scale = 0;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
      if (scale < 9) {
        nanos = nanos * 10 + (text[at] - '0');
        ++scale;
      }
      ++at;
    }
    if (scale == 0) {
      return std::nullopt;
    }
    for (; scale < 9; ++scale) {
      nanos *= 10;
    }
  }
  if (at >= text.size()) {
    return std::nullopt;
  }
  int offset_seconds = 0;
  if (text[at] == 'Z' || text[at] == 'z') {
    if (at + 1 != text.size()) {
      return std::nullopt;
    }
  } else if (text[at] == '+' || text[at] == '-') {
    auto off_hour = digits(text, at + 1, 2);
    auto off_minute = digits(text, at + 4, 2);
    if (!off_hour || !off_minute || text.size() != at + 6 || text[at + 3] != ':') {
      return std::nullopt;
    }
    offset_seconds = (*off_hour * 3600 + *off_minute * 60) * (text[at] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  std::time_t seconds = timegm(&tm) - offset_seconds;
  // system_clock counts nanoseconds in 64 bits: it ends in 2262. Later expiries mean "never" to us.
  constexpr std::time_t kLast = 9'000'000'000;  // 2255
  if (seconds > kLast) {
    return WallTime::max();
  }
  // It starts in 1677: an earlier time (fuzz target exec_credential, issue 18: the year 1012 overflowed the
  // conversion to nanoseconds) is long past, which is all that matters of it; 1685 says so without overflow.
  if (seconds < -kLast) {
    return WallTime{} + std::chrono::seconds(-kLast);
  }
  return WallTime{} + std::chrono::seconds(seconds) +
         std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
}

std::string format_rfc3339(WallTime time) {
  std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace kp::kube
