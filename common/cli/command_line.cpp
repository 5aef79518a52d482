// The project's use of CLI11. Pure.
#include "common/cli/command_line.h"

#include <algorithm>
#include <cctype>

namespace ambient::cli {
namespace {

// Options as "  --name VALUE   description (default X)": the default sits with the words
// that explain it, and the placeholder is the option's own (not CLI11's type names).
class HelpFormatter : public CLI::Formatter {
 public:
  static constexpr size_t kNameWidth = 32;
  static constexpr size_t kDescriptionWidth = 100 - kNameWidth;
  std::string make_option_opts(const CLI::Option* opt) const override {
    return opt->get_option_text().empty() ? "" : " " + opt->get_option_text();
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string desc = opt->get_description();
    if (opt->get_type_size() == 0 || opt->get_default_str().empty()) return desc;
    std::string shown = "(default " + opt->get_default_str() + ")";
    size_t lastLine =
        desc.size() - (desc.rfind('\n') == std::string::npos ? 0 : desc.rfind('\n') + 1);
    return desc + (lastLine + 1 + shown.size() > kDescriptionWidth ? "\n" : " ") + shown;
  }
};

// CLI11 reads "010" as octal 8 (and "0b10" as binary); a flag reader expects decimal 10. A
// leading 0 before a digit is refused instead of read either way; "0x" hex stays.
const CLI::Validator kNoLeadingZero(
    [](std::string& v) {
      size_t digits = (!v.empty() && (v[0] == '+' || v[0] == '-')) ? 1 : 0;
      bool leadingZero = v.size() > digits + 1 && v[digits] == '0' &&
                         std::isdigit(static_cast<unsigned char>(v[digits + 1]));
      bool binary = v.size() > digits + 1 && v[digits] == '0' &&
                    (v[digits + 1] == 'b' || v[digits + 1] == 'B');
      return leadingZero || binary
                 ? "\"" + v + "\": write the number in decimal without leading zeros (or 0x hex)"
                 : std::string();
    },
    "");

// Every integer option of `app` and its subcommands gets kNoLeadingZero.
void refuseLeadingZeros(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    // "UINT", or "UINT:INT in [1 - 65535]" with the validators' descriptions.
    const std::string type = opt->get_type_name().substr(0, opt->get_type_name().find(':'));
    if (type == "INT" || type == "UINT") opt->check(kNoLeadingZero);
  }
  for (CLI::App* sub : app.get_subcommands({})) refuseLeadingZeros(*sub);
}

}  // namespace

const CLI::Validator kNonEmpty(
    [](std::string& v) {
      return v.empty() ? std::string("wants a value, not an empty string") : "";
    },
    "");

void setUp(CLI::App& app, const std::string& name, const std::string& description, bool* help) {
  app.name(name);
  app.description(description);
  auto formatter = std::make_shared<HelpFormatter>();
  formatter->column_width(HelpFormatter::kNameWidth);
  app.formatter(formatter);
  app.option_defaults()->always_capture_default();
  app.set_help_flag();
  app.add_flag("-h,--help", *help, "print this text and exit")->disable_flag_override();
  app.fallthrough();
}

Status parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<std::string> split;
  for (auto& a : args) {
    if (a.rfind("--", 0) == 0 && a.size() > 3 && a.back() == '=' && a.find('=') == a.size() - 1) {
      split.push_back(a.substr(0, a.size() - 1));
      split.emplace_back();
    } else {
      split.push_back(std::move(a));
    }
  }
  std::reverse(split.begin(), split.end());  // CLI11 takes the arguments last first
  refuseLeadingZeros(app);
  try {
    app.parse(split);
  } catch (const CLI::ParseError& e) {
    return fail(ErrorCode::kInvalidInput, e.what());
  }
  return {};
}

}  // namespace ambient::cli
