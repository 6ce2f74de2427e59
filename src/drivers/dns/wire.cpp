#include "drivers/dns/wire.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace kp::drivers::dns {
namespace {

struct TypeName {
  std::string_view name;
  std::uint16_t value;
};

constexpr TypeName kTypes[] = {
    {"A", type::a},         {"NS", type::ns},         {"CNAME", type::cname}, {"SOA", type::soa},
    {"PTR", type::ptr},     {"MX", type::mx},         {"TXT", type::txt},     {"AAAA", type::aaaa},
    {"SRV", type::srv},     {"NAPTR", type::naptr},   {"OPT", type::opt},     {"DS", type::ds},
    {"RRSIG", type::rrsig}, {"DNSKEY", type::dnskey}, {"SVCB", type::svcb},   {"HTTPS", type::https},
    {"ANY", type::any},     {"CAA", type::caa},
};

constexpr std::string_view kRcodes[] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::uint8_t byte_lower(std::uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// One label byte in presentation form (RFC 1035 5.1 escapes for the characters that would be ambiguous).
void append_label_byte(std::string& out, std::uint8_t c) {
  if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c <= 0x20 || c >= 0x7f) {
    out += fmt::format("\\{:03d}", c);
  } else {
    out += static_cast<char>(c);
  }
}

// Reads a bounded big-endian field; `what` names it in errors.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> message, std::size_t offset) : message_(message), offset_(offset) {}

  std::size_t offset() const { return offset_; }
  std::size_t left() const { return offset_ <= message_.size() ? message_.size() - offset_ : 0; }

  Result<std::uint16_t> u16(std::string_view what) {
    if (left() < 2) {
      return fail(ErrorKind::protocol, fmt::format("{} at offset {} runs past the end", what, offset_));
    }
    std::uint16_t value = read_u16(message_.data() + offset_);
    offset_ += 2;
    return value;
  }
  Result<std::uint32_t> u32(std::string_view what) {
    if (left() < 4) {
      return fail(ErrorKind::protocol, fmt::format("{} at offset {} runs past the end", what, offset_));
    }
    const std::uint8_t* p = message_.data() + offset_;
    offset_ += 4;
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  }
  Result<std::string> name() {
    Result<NameRead> read = read_name(message_, offset_);
    if (!read) {
      return std::unexpected(read.error());
    }
    offset_ = read->next;
    return std::move(read->name);
  }
  void skip(std::size_t bytes) { offset_ += bytes; }

 private:
  std::span<const std::uint8_t> message_;
  std::size_t offset_;
};

Result<std::string> rdata_text(std::span<const std::uint8_t> message, std::uint16_t rtype, std::size_t start,
                               std::size_t length) {
  std::span<const std::uint8_t> rdata = message.subspan(start, length);
  auto name_at = [&](std::size_t offset) -> Result<NameRead> {
    Result<NameRead> read = read_name(message, offset);
    if (read && read->next > start + length) {
      return fail(ErrorKind::protocol,
                  fmt::format("name in RDATA at offset {} runs past the record's end", offset));
    }
    return read;
  };
  auto wrong_length = [&]() {
    return fail(ErrorKind::protocol, fmt::format("{} RDATA at offset {} has a wrong length ({})",
                                                 type_name(rtype), start, length));
  };
  switch (rtype) {
    case type::a: {
      if (length != 4) {
        return wrong_length();
      }
      return fmt::format("{}.{}.{}.{}", rdata[0], rdata[1], rdata[2], rdata[3]);
    }
    case type::aaaa: {
      if (length != 16) {
        return wrong_length();
      }
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, rdata.data(), text, sizeof text);
      return std::string(text);
    }
    case type::ns:
    case type::cname:
    case type::ptr: {
      Result<NameRead> target = name_at(start);
      if (!target) {
        return std::unexpected(target.error());
      }
      if (target->next != start + length) {
        return wrong_length();
      }
      return std::move(target->name);
    }
    case type::mx: {
      if (length < 3) {
        return wrong_length();
      }
      Result<NameRead> target = name_at(start + 2);
      if (!target) {
        return std::unexpected(target.error());
      }
      return fmt::format("{} {}", read_u16(rdata.data()), target->name);
    }
    case type::srv: {
      if (length < 7) {
        return wrong_length();
      }
      Result<NameRead> target = name_at(start + 6);
      if (!target) {
        return std::unexpected(target.error());
      }
      return fmt::format("{} {} {} {}", read_u16(rdata.data()), read_u16(rdata.data() + 2),
                         read_u16(rdata.data() + 4), target->name);
    }
    case type::soa: {
      Result<NameRead> mname = name_at(start);
      if (!mname) {
        return std::unexpected(mname.error());
      }
      Result<NameRead> rname = name_at(mname->next);
      if (!rname) {
        return std::unexpected(rname.error());
      }
      if (rname->next + 20 != start + length) {
        return wrong_length();
      }
      Cursor numbers(message, rname->next);
      std::array<std::uint32_t, 5> values{};
      for (std::uint32_t& value : values) {
        Result<std::uint32_t> read = numbers.u32("SOA field");
        if (!read) {
          return std::unexpected(read.error());
        }
        value = *read;
      }
      return fmt::format("{} {} {} {} {} {} {}", mname->name, rname->name, values[0], values[1], values[2],
                         values[3], values[4]);
    }
    case type::txt: {
      std::string text;
      std::size_t at = 0;
      while (at < length) {
        std::size_t piece = rdata[at];
        if (at + 1 + piece > length) {
          return wrong_length();
        }
        text += text.empty() ? "\"" : " \"";
        for (std::size_t i = 0; i < piece; ++i) {
          std::uint8_t c = rdata[at + 1 + i];
          if (c == '"' || c == '\\') {
            text += '\\';
            text += static_cast<char>(c);
          } else if (c < 0x20 || c >= 0x7f) {
            text += fmt::format("\\{:03d}", c);
          } else {
            text += static_cast<char>(c);
          }
        }
        text += '"';
        at += 1 + piece;
      }
      return text;
    }
    default: {
      std::string text = fmt::format("\\# {}", length);
      if (length > 0) {
        text += ' ';
        for (std::uint8_t byte : rdata) {
          text += fmt::format("{:02x}", byte);
        }
      }
      return text;
    }
  }
}

Result<std::vector<ResourceRecord>> read_records(std::span<const std::uint8_t> message, Cursor& cursor,
                                                 std::uint16_t count, std::string_view section) {
  std::vector<ResourceRecord> records;
  records.reserve(std::min<std::size_t>(count, 64));
  for (std::uint16_t i = 0; i < count; ++i) {
    std::size_t at = cursor.offset();
    auto context = [&](const Error& error) {
      return std::unexpected(with_context(error, fmt::format("{} {} at offset {}: ", section, i + 1, at)));
    };
    ResourceRecord record;
    Result<std::string> name = cursor.name();
    if (!name) {
      return context(name.error());
    }
    record.name = std::move(*name);
    Result<std::uint16_t> rtype = cursor.u16("TYPE");
    Result<std::uint16_t> klass = rtype ? cursor.u16("CLASS") : Result<std::uint16_t>(0);
    Result<std::uint32_t> ttl = klass ? cursor.u32("TTL") : Result<std::uint32_t>(0);
    Result<std::uint16_t> rdlength = ttl ? cursor.u16("RDLENGTH") : Result<std::uint16_t>(0);
    for (const Error* error : {rtype ? nullptr : &rtype.error(), klass ? nullptr : &klass.error(),
                               ttl ? nullptr : &ttl.error(), rdlength ? nullptr : &rdlength.error()}) {
      if (error != nullptr) {
        return context(*error);
      }
    }
    if (*rdlength > cursor.left()) {
      return context(Error{
          ErrorKind::protocol,
          fmt::format("RDATA runs past the end (rdlength {}, {} bytes left)", *rdlength, cursor.left())});
    }
    record.type = *rtype;
    record.klass = *klass;
    record.ttl = *ttl;
    Result<std::string> data = rdata_text(message, record.type, cursor.offset(), *rdlength);
    if (!data) {
      return context(data.error());
    }
    record.data = std::move(*data);
    cursor.skip(*rdlength);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace

Result<std::uint16_t> parse_type(std::string_view text) {
  for (const TypeName& known : kTypes) {
    if (iequals(known.name, text)) {
      return known.value;
    }
  }
  if (text.size() > 4 && iequals(text.substr(0, 4), "TYPE")) {
    unsigned value = 0;
    std::string_view digits = text.substr(4);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc{} && end == digits.data() + digits.size() && value <= 0xffff) {
      return static_cast<std::uint16_t>(value);
    }
  }
  return fail(ErrorKind::input,
              fmt::format("unknown query type \"{}\" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)", text));
}

std::string type_name(std::uint16_t value) {
  for (const TypeName& known : kTypes) {
    if (known.value == value) {
      return std::string(known.name);
    }
  }
  return fmt::format("TYPE{}", value);
}

std::string rcode_name(std::uint8_t value) {
  if (value < std::size(kRcodes)) {
    return std::string(kRcodes[value]);
  }
  return fmt::format("RCODE{}", value);
}

Result<std::vector<std::uint8_t>> encode_name(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::input, fmt::format("bad name \"{}\": {}", name, why));
  };
  std::vector<std::uint8_t> wire;
  if (name.empty()) {
    return bad("empty");
  }
  if (name == ".") {
    wire.push_back(0);
    return wire;
  }
  std::vector<std::uint8_t> label;
  auto end_label = [&]() -> bool {
    if (label.empty() || label.size() > kMaxLabelLength) {
      return false;
    }
    wire.push_back(static_cast<std::uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c == '.') {
      if (label.empty()) {
        return bad("empty label");
      }
      // "\." inside a label was consumed by the escape branch; a plain dot ends the label.
      if (!end_label()) {
        return bad("label longer than 63 bytes");
      }
      continue;
    }
    if (c <= 0x20 || c == 0x7f) {
      return bad("whitespace or control character");
    }
    if (c == '\\') {
      if (i + 1 >= name.size()) {
        return bad("dangling backslash");
      }
      if (name[i + 1] >= '0' && name[i + 1] <= '9') {
        unsigned value = 0;
        std::string_view digits = name.substr(i + 1, 3);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.size() != 3 || ec != std::errc{} || end != digits.data() + 3 || value > 255) {
          return bad("\\DDD needs three decimal digits up to 255");
        }
        label.push_back(static_cast<std::uint8_t>(value));
        i += 3;
      } else {
        label.push_back(static_cast<std::uint8_t>(name[i + 1]));
        i += 1;
      }
    } else {
      label.push_back(c);
    }
    if (label.size() > kMaxLabelLength) {
      return bad("label longer than 63 bytes");
    }
  }
  if (!label.empty() && !end_label()) {
    return bad("label longer than 63 bytes");
  }
  wire.push_back(0);
  if (wire.size() > kMaxNameWireLength) {
    return bad(fmt::format("longer than 255 bytes on the wire ({})", wire.size()));
  }
  return wire;
}

Result<PreparedQuery> prepare_query(std::string_view name, std::uint16_t qtype, const QueryOptions& options) {
  Result<std::vector<std::uint8_t>> qname = encode_name(name);
  if (!qname) {
    return std::unexpected(qname.error());
  }
  PreparedQuery query;
  query.name = std::string(name);
  query.type = qtype;
  query.wire.assign(kHeaderSize, 0);
  // Flags: QR=0, OPCODE=QUERY, RD as asked; QDCOUNT=1, ARCOUNT=1 with EDNS.
  query.wire[2] = options.recursion_desired ? 0x01 : 0x00;
  write_u16(query.wire.data() + 4, 1);
  query.wire.insert(query.wire.end(), qname->begin(), qname->end());
  std::array<std::uint8_t, 4> tail{};
  write_u16(tail.data(), qtype);
  write_u16(tail.data() + 2, kClassIn);
  query.wire.insert(query.wire.end(), tail.begin(), tail.end());
  query.question_size = qname->size() + 4;
  if (options.edns_udp_size) {
    write_u16(query.wire.data() + 10, 1);
    // Root owner, TYPE OPT, CLASS = UDP payload size, TTL = extended RCODE 0, version 0, DO flag, RDLENGTH 0.
    std::array<std::uint8_t, 11> opt{};
    write_u16(opt.data() + 1, type::opt);
    write_u16(opt.data() + 3, std::max<std::uint16_t>(*options.edns_udp_size, kClassicUdpPayload));
    opt[7] = options.dnssec_ok ? 0x80 : 0x00;
    query.wire.insert(query.wire.end(), opt.begin(), opt.end());
  }
  return query;
}

std::optional<Header> read_header(std::span<const std::uint8_t> message) {
  if (message.size() < kHeaderSize) {
    return std::nullopt;
  }
  const std::uint8_t* p = message.data();
  Header header;
  header.id = read_u16(p);
  header.qr = (p[2] & 0x80) != 0;
  header.opcode = static_cast<std::uint8_t>((p[2] >> 3) & 0x0f);
  header.aa = (p[2] & 0x04) != 0;
  header.tc = (p[2] & 0x02) != 0;
  header.rd = (p[2] & 0x01) != 0;
  header.ra = (p[3] & 0x80) != 0;
  header.rcode = static_cast<std::uint8_t>(p[3] & 0x0f);
  header.qdcount = read_u16(p + 4);
  header.ancount = read_u16(p + 6);
  header.nscount = read_u16(p + 8);
  header.arcount = read_u16(p + 10);
  return header;
}

std::string_view to_string(Check check) {
  switch (check) {
    case Check::ok:
      return "ok";
    case Check::too_short:
      return "shorter than a DNS header";
    case Check::not_response:
      return "not a response to a query";
    case Check::question_mismatch:
      return "answers another question";
  }
  return "?";
}

Check check_response(std::span<const std::uint8_t> response, const PreparedQuery& query) {
  if (response.size() < kHeaderSize) {
    return Check::too_short;
  }
  const std::uint8_t flags = response[2];
  if ((flags & 0x80) == 0 || ((flags >> 3) & 0x0f) != 0) {
    return Check::not_response;
  }
  const std::uint16_t qdcount = read_u16(response.data() + 4);
  if (qdcount == 0) {
    // FORMERR/NOTIMP/REFUSED answers may carry no question; a NOERROR answer without one answers nothing.
    return (response[3] & 0x0f) != 0 ? Check::ok : Check::question_mismatch;
  }
  if (qdcount != 1) {
    return Check::question_mismatch;
  }
  std::span<const std::uint8_t> expected = query.question();
  if (response.size() < kHeaderSize + expected.size()) {
    return Check::question_mismatch;
  }
  // Label length bytes are <= 63, below 'A', so folding letters never changes them: a byte-wise
  // case-insensitive compare of the uncompressed question is exact. A compressed question (a pointer at
  // offset 12 could only point into the header) never matches.
  const std::uint8_t* got = response.data() + kHeaderSize;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (byte_lower(got[i]) != byte_lower(expected[i])) {
      return Check::question_mismatch;
    }
  }
  return Check::ok;
}

Result<NameRead> read_name(std::span<const std::uint8_t> message, std::size_t offset) {
  NameRead result;
  std::size_t at = offset;
  std::size_t wire_length = 0;
  bool jumped = false;
  // A pointer must point strictly before itself, so every jump goes backwards and the walk ends; the hop
  // bound is a second fence (a name has at most 127 labels anyway).
  int hops = 0;
  while (true) {
    if (at >= message.size()) {
      return fail(ErrorKind::protocol,
                  fmt::format("name at offset {}: runs past the end of the message", offset));
    }
    const std::uint8_t length = message[at];
    if ((length & 0xc0) == 0xc0) {
      if (at + 1 >= message.size()) {
        return fail(ErrorKind::protocol,
                    fmt::format("name at offset {}: compression pointer cut off at the end", offset));
      }
      const std::size_t target = static_cast<std::size_t>(read_u16(message.data() + at) & 0x3fff);
      if (target >= at) {
        return fail(
            ErrorKind::protocol,
            fmt::format("name at offset {}: compression pointer to offset {} does not point backwards",
                        offset, target));
      }
      if (++hops > 127) {
        return fail(ErrorKind::protocol,
                    fmt::format("name at offset {}: too many compression pointers", offset));
      }
      if (!jumped) {
        result.next = at + 2;
        jumped = true;
      }
      at = target;
      continue;
    }
    if ((length & 0xc0) != 0) {
      return fail(ErrorKind::protocol,
                  fmt::format("name at offset {}: unsupported label type 0x{:02x}", offset, length));
    }
    wire_length += 1 + length;
    if (wire_length > kMaxNameWireLength) {
      return fail(ErrorKind::protocol, fmt::format("name at offset {}: longer than 255 bytes", offset));
    }
    if (length == 0) {
      if (!jumped) {
        result.next = at + 1;
      }
      break;
    }
    if (at + 1 + length > message.size()) {
      return fail(ErrorKind::protocol, fmt::format("name at offset {}: label runs past the end", offset));
    }
    for (std::size_t i = 0; i < length; ++i) {
      append_label_byte(result.name, message[at + 1 + i]);
    }
    result.name += '.';
    at += 1 + length;
  }
  if (result.name.empty()) {
    result.name.push_back('.');  // the root (push_back: GCC 12 warns falsely on assigning a literal here)
  }
  return result;
}

Result<Message> parse_message(std::span<const std::uint8_t> message) {
  std::optional<Header> header = read_header(message);
  if (!header) {
    return fail(ErrorKind::protocol,
                fmt::format("truncated header ({} of {} bytes)", message.size(), kHeaderSize));
  }
  Message parsed;
  parsed.header = *header;
  Cursor cursor(message, kHeaderSize);
  for (std::uint16_t i = 0; i < header->qdcount; ++i) {
    std::size_t at = cursor.offset();
    Question question;
    Result<std::string> name = cursor.name();
    Result<std::uint16_t> qtype = name ? cursor.u16("QTYPE") : Result<std::uint16_t>(0);
    Result<std::uint16_t> klass = qtype ? cursor.u16("QCLASS") : Result<std::uint16_t>(0);
    for (const Error* error : {name ? nullptr : &name.error(), qtype ? nullptr : &qtype.error(),
                               klass ? nullptr : &klass.error()}) {
      if (error != nullptr) {
        return std::unexpected(with_context(*error, fmt::format("question {} at offset {}: ", i + 1, at)));
      }
    }
    question.name = std::move(*name);
    question.type = *qtype;
    question.klass = *klass;
    parsed.questions.push_back(std::move(question));
  }
  struct SectionSpec {
    std::vector<ResourceRecord>* records;
    std::uint16_t count;
    std::string_view name;
  };
  for (const SectionSpec& section : {SectionSpec{&parsed.answers, header->ancount, "answer"},
                                     SectionSpec{&parsed.authority, header->nscount, "authority"},
                                     SectionSpec{&parsed.additional, header->arcount, "additional"}}) {
    Result<std::vector<ResourceRecord>> records = read_records(message, cursor, section.count, section.name);
    if (!records) {
      return std::unexpected(records.error());
    }
    *section.records = std::move(*records);
  }
  return parsed;
}

}  // namespace kp::drivers::dns
