// ByteRing: append, front, consume over a ring of bytes. Pure.
#include "ztunnel/core/byte_ring.h"

#include <algorithm>
#include <cstring>

namespace zt {

void ByteRing::grow(size_t need) {
  size_t cap = std::max(need, std::min<size_t>(std::max<size_t>(cap_ * 2, 4096), limit_));
  std::unique_ptr<uint8_t[]> next(new uint8_t[cap]);
  size_t first = std::min(size_, cap_ - head_);
  if (size_) {
    std::memcpy(next.get(), buf_.get() + head_, first);
    std::memcpy(next.get() + first, buf_.get(), size_ - first);
  }
  buf_ = std::move(next);
  cap_ = cap;
  head_ = 0;
}

void ByteRing::append(const uint8_t* data, size_t len) {
  if (len == 0) return;
  if (size_ + len > cap_) grow(size_ + len);
  size_t tail = (head_ + size_) % cap_;
  size_t first = std::min(len, cap_ - tail);
  std::memcpy(buf_.get() + tail, data, first);
  std::memcpy(buf_.get(), data + first, len - first);
  size_ += len;
}

std::span<const uint8_t> ByteRing::front() const {
  if (size_ == 0) return {};
  return {buf_.get() + head_, std::min(size_, cap_ - head_)};
}

void ByteRing::consume(size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  head_ = size_ == 0 ? 0 : (head_ + n) % cap_;
}

void ByteRing::shrinkIfEmpty() {
  if (size_ != 0) return;
  buf_.reset();
  cap_ = 0;
  head_ = 0;
}

}  // namespace zt
