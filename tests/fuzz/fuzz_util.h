// Helpers shared by the libFuzzer targets: an invariant check that traps (a finding) and the
// splitting of one input into named sections. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fuzz {

// A violated invariant of the code under test: trap so libFuzzer records a crash.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

inline std::string_view asView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at the first `marker`: `text` keeps what precedes it, the result is what follows;
// nullopt (and `text` untouched) when the marker is absent.
inline std::optional<std::string_view> splitAt(std::string_view& text, std::string_view marker) {
  size_t at = text.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view tail = text.substr(at + marker.size());
  text = text.substr(0, at);
  return tail;
}

}  // namespace fuzz
