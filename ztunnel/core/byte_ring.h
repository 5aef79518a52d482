// A bounded FIFO of bytes kept in a ring: consumed bytes are never retained, storage grows
// (doubling) only up to the bytes held at once and is given back when empty. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace zt {

class ByteRing {
 public:
  ByteRing() = default;
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  // Growth stops doubling at this many bytes (it still grows to what is needed): a ring whose
  // content is bounded by a window then never holds more storage than that window.
  void setGrowthLimit(size_t limit) { limit_ = limit; }
  // Appends all of `data` (grows storage to min(max(2 x capacity, needed), max(limit, needed))).
  void append(const uint8_t* data, size_t len);
  // The oldest held bytes that are contiguous in storage (empty span when empty).
  std::span<const uint8_t> front() const;
  // Drops the oldest `n` bytes (n <= size()).
  void consume(size_t n);
  // Frees the storage when nothing is held.
  void shrinkIfEmpty();

 private:
  void grow(size_t need);
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
  size_t limit_ = SIZE_MAX;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace zt
