// Move-only owners of C library objects: a unique_ptr with the library's own free function.
// No logic here.
#pragma once

#include <memory>

namespace ambient {

template <auto FreeFn>
struct CDeleter {
  template <class T>
  void operator()(T* p) const {
    if (p) FreeFn(p);
  }
};

template <class T, auto FreeFn>
using CPtr = std::unique_ptr<T, CDeleter<FreeFn>>;

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace ambient
