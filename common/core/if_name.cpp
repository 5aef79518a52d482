// Network interface names as validated values. Pure.
#include "common/core/if_name.h"

namespace ambient {

Result<IfName> IfName::parse(std::string_view text, std::string_view what) {
  if (!valid(text)) {
    std::string why = text.empty() ? "is empty"
                      : text.size() > kIfNameMax
                          ? "is " + std::to_string(text.size()) +
                                " bytes; the kernel allows at most " + std::to_string(kIfNameMax)
                          : "is not an interface name we accept (printable ASCII, no '/', "
                            "':' or whitespace)";
    return fail(ErrorCode::kInvalidInput,
                std::string(what) + " \"" + std::string(text) + "\" " + why);
  }
  IfName name;
  name.assign(text);
  return name;
}

Result<IfName> IfName::parseOptional(std::string_view text, std::string_view what) {
  if (text.empty()) return IfName{};
  return parse(text, what);
}

}  // namespace ambient
