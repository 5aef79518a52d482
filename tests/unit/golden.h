// Golden-file comparison for the unit tests: AMBIENT_UPDATE_GOLDEN=1 rewrites the file after an
// intended change. Touches files (the test's own golden directory).
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace ambient::testing {

inline void checkGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(AMBIENT_GOLDEN_DIR) + "/" + name;
  if (std::getenv("AMBIENT_UPDATE_GOLDEN")) std::ofstream(path) << actual;
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream want;
  want << in.rdbuf();
  CHECK(actual == want.str());
}

}  // namespace ambient::testing
