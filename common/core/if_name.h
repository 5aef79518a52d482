// A network interface name that the kernel would accept, as a value: validated once where it
// enters the program and carried typed from there on. A literal in code is checked when
// compiling. Pure.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/constants.h"
#include "common/core/error.h"

namespace ambient {

class IfName {
 public:
  IfName() = default;  // no interface (empty)
  // A literal, checked at compile time: `IfName eth0 = "eth0";`.
  consteval IfName(const char* literal) {  // NOLINT(google-explicit-constructor)
    std::string_view text(literal);
    if (!valid(text)) throw "not a valid interface name literal";
    assign(text);
  }
  // 1-15 bytes of printable ASCII, no '/' or ':', not "." or ".." (the kernel's dev_valid_name,
  // narrowed to what JSON and logs carry as they are).
  // `what` names the field in the error ("CNI_IFNAME", "host veth of pod a/b").
  static Result<IfName> parse(std::string_view text, std::string_view what);
  // As parse(), but "" is the empty name (a field that may name no interface).
  static Result<IfName> parseOptional(std::string_view text, std::string_view what);

  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {name_.data(), size_}; }
  std::string str() const { return std::string(view()); }
  auto operator<=>(const IfName&) const = default;

 private:
  static constexpr bool valid(std::string_view text) {
    if (text.empty() || text.size() > kIfNameMax || text == "." || text == "..") return false;
    for (char c : text) {
      // Printable ASCII only: the kernel also takes other bytes, but a name that is not UTF-8
      // cannot cross the agent protocol's JSON (found by fuzz-cni_invocation), and no CNI
      // plugin names interfaces so.
      if (c < '!' || c > '~' || c == '/' || c == ':') return false;
    }
    return true;
  }
  constexpr void assign(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) name_[i] = text[i];
    size_ = uint8_t(text.size());
  }

  std::array<char, kIfNameMax + 1> name_{};
  uint8_t size_ = 0;
};

}  // namespace ambient
