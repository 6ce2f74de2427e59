#include "drivers/etcd/keys.hpp"

#include <algorithm>

namespace kp::drivers::etcd {
namespace {

std::size_t digits_for(std::uint64_t key_space) {
  std::size_t digits = 1;
  for (std::uint64_t largest = key_space > 0 ? key_space - 1 : 0; largest >= 10; largest /= 10) {
    ++digits;
  }
  return digits;
}

// Writes `index` right-aligned, zero-padded, into [begin, end).
void write_index(char* begin, char* end, std::uint64_t index) {
  for (char* digit = end; digit != begin;) {
    --digit;
    *digit = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

}  // namespace

std::size_t min_key_size(std::string_view prefix, std::uint64_t key_space) {
  return prefix.size() + digits_for(key_space);
}

std::string make_key(std::string_view prefix, std::size_t key_size, std::uint64_t index) {
  std::string key(prefix);
  key.resize(key_size, '0');
  write_index(key.data() + prefix.size(), key.data() + key.size(), index);
  return key;
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

KeyGenerator::KeyGenerator(std::string prefix, std::size_t key_size, std::uint64_t key_space, bool sequential,
                           std::uint64_t worker, std::uint64_t workers, std::uint64_t seed)
    : buffer_(make_key(prefix, key_size, 0)),
      digits_start_(prefix.size()),
      key_space_(std::max<std::uint64_t>(1, key_space)),
      sequential_(sequential),
      next_sequential_(worker % key_space_),
      stride_(std::max<std::uint64_t>(1, workers)),
      random_(seed),
      pick_(0, key_space_ - 1) {}

std::string_view KeyGenerator::next() {
  std::uint64_t index = 0;
  if (sequential_) {
    index = next_sequential_;
    next_sequential_ = (next_sequential_ + stride_) % key_space_;
  } else {
    index = pick_(random_);
  }
  last_index_ = index;
  write_index(buffer_.data() + digits_start_, buffer_.data() + buffer_.size(), index);
  return buffer_;
}

}  // namespace kp::drivers::etcd
