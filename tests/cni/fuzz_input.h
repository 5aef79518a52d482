// Reads an input of the cni_invocation fuzz target (tests/fuzz/cni_invocation_fuzz.cpp) as the
// harness does: "KEY=VALUE" lines, an empty line, the network config, then the optional
// "\n--reply\n" (agent reply) and "\n--api\n" (API objects) sections. For regression tests that
// replay a finding. Pure (reads one file).
#pragma once

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace ambient::cni::testing {

struct FuzzInput {
  std::map<std::string, std::string> env;
  std::string stdinText;
  std::optional<std::string> reply;  // none: the agent is unreachable
  std::optional<std::string> api;
};

inline std::optional<std::string> cutAt(std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::string tail = text.substr(at + marker.size());
  text.resize(at);
  return tail;
}

inline std::optional<FuzzInput> readFuzzInput(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream s;
  s << f.rdbuf();
  std::string text = s.str();
  FuzzInput in;
  in.api = cutAt(text, "\n--api\n");
  in.reply = cutAt(text, "\n--reply\n");
  if (auto body = cutAt(text, "\n\n")) in.stdinText = *body;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (auto eq = line.find('='); eq != std::string::npos)
      in.env[line.substr(0, eq)] = line.substr(eq + 1);
  return in;
}

}  // namespace ambient::cni::testing
