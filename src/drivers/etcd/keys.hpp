#pragma once

// Keys of the etcd workload: `prefix` + a zero-padded decimal index, exactly `key_size` bytes, like etcd's
// benchmark tool makes fixed-size keys. Every key the run writes starts with the prefix, so teardown deletes
// them all with one DeleteRange over the prefix and nothing else is touched.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kp::drivers::etcd {

// The smallest key size that holds `prefix` and every index below `key_space`.
std::size_t min_key_size(std::string_view prefix, std::uint64_t key_space);

// The key of `index` (< key_space); `key_size` must be >= min_key_size.
std::string make_key(std::string_view prefix, std::size_t key_size, std::uint64_t index);

// The end of the range of every key with `prefix` (etcd's "prefix + 1": the last byte incremented, dropping
// 0xff bytes; all keys when the prefix is only 0xff bytes -> "\0").
std::string prefix_range_end(std::string_view prefix);

// One per worker (not thread-safe). Sequential keys: worker w of n takes w, w+n, w+2n, ... modulo the key
// space, so together the workers walk the key space in order; random keys: uniform over the key space.
class KeyGenerator {
 public:
  KeyGenerator(std::string prefix, std::size_t key_size, std::uint64_t key_space, bool sequential,
               std::uint64_t worker, std::uint64_t workers, std::uint64_t seed);

  // The next key; the view stays valid until the next call.
  std::string_view next();
  std::uint64_t last_index() const { return last_index_; }

 private:
  std::string buffer_;
  std::size_t digits_start_;
  std::uint64_t key_space_;
  bool sequential_;
  std::uint64_t next_sequential_;
  std::uint64_t stride_;
  std::uint64_t last_index_ = 0;
  std::mt19937_64 random_;
  std::uniform_int_distribution<std::uint64_t> pick_;
};

}  // namespace kp::drivers::etcd
