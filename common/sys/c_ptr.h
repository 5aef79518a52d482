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

}  // namespace ambient
