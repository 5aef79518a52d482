// The project's use of CLI11: one help layout, one error type, one spelling rule. Pure.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace ambient::cli {

// Gives `app` the project's conventions:
//  - -h/--help is a plain flag that sets *help. Every other argument is still parsed and
//    checked, so `prog <args> --help` fails on a bad argument (the manifest tests rely on it).
//  - Each option's default is captured from its bound variable and shown as "(default X)";
//    the value placeholder is the option's option_text ("N", "PATH").
//  - An option given on a subcommand falls through to the app's flags.
//  - The app's name and the description that heads its --help are set here, so a binary
//    states them once (its usage text and its parse build the same app).
void setUp(CLI::App& app, const std::string& name, const std::string& description, bool* help);

// Parses `args` (argv without argv[0]). "--name=" gives the option an empty value, as
// "--name ''" does (CLI11 2.1 would take the next argument instead). CLI11's refusal, which
// names the flag, comes back as kInvalidInput. An integer written with a leading 0 ("010") is
// refused: CLI11 would read it as octal. Parse each app once (the check is added here).
Status parse(CLI::App& app, std::vector<std::string> args);

// Refuses an empty value ("--flag: wants a value, not an empty string").
extern const CLI::Validator kNonEmpty;

// An option whose text goes through one of the project's parsers (`Result<T> parse(text)`):
// the parsed value lands in `out`, the parser's message is the refusal. Set the shown default
// with ->default_str().
template <class T, class Parse>
CLI::Option* addParsed(CLI::App& app, const std::string& name, T& out, Parse parse,
                       const std::string& description) {
  return app.add_option_function<std::string>(
      name,
      [&out, parse, name](const std::string& v) {
        auto r = parse(v);
        if (!r) throw CLI::ValidationError(name, r.error().message());
        out = std::move(*r);
      },
      description);
}

}  // namespace ambient::cli
