// A flat open-addressing hash map from a token pair (left, right) to a 64-bit value: the merge
// table of the encoder and the pair counts of the trainer. Linear probing, power-of-two size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace alpha::tok {

inline uint64_t pair_key(uint32_t left, uint32_t right) {
  return (uint64_t(left) << 32) | right;
}
inline uint32_t pair_left(uint64_t key) {
  return uint32_t(key >> 32);
}
inline uint32_t pair_right(uint64_t key) {
  return uint32_t(key);
}

class PairMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // pair (UINT32_MAX, UINT32_MAX) is never used

  explicit PairMap(size_t expected = 16) { rehash(expected * 2); }

  size_t size() const { return size_; }

  // Pointer to the value of `key`, or nullptr.
  const uint64_t* find(uint64_t key) const {
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  uint64_t* find(uint64_t key) {
    return const_cast<uint64_t*>(static_cast<const PairMap*>(this)->find(key));
  }

  // The value of `key`, inserted as `init` if absent.
  uint64_t& get(uint64_t key, uint64_t init = 0) {
    if ((size_ + 1) * 4 > keys_.size() * 3) rehash(keys_.size() * 2);
    size_t i = slot(key);
    for (; keys_[i] != kEmpty; i = (i + 1) & mask_)
      if (keys_[i] == key) return values_[i];
    keys_[i] = key;
    values_[i] = init;
    ++size_;
    return values_[i];
  }

  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != kEmpty) f(keys_[i], values_[i]);
  }

 private:
  size_t slot(uint64_t key) const {
    key *= 0x9E3779B97F4A7C15ull;
    return size_t(key >> 32 ^ key) & mask_;
  }
  void rehash(size_t capacity) {
    size_t cap = 16;
    while (cap < capacity) cap *= 2;
    std::vector<uint64_t> old_keys(cap, kEmpty), old_values(cap);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = cap - 1;
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty) get(old_keys[i]) = old_values[i];
  }

  std::vector<uint64_t> keys_, values_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace alpha::tok
