// A fresh directory for one test, removed with everything in it when the owner goes out of
// scope; a test that cannot create one fails there, naming the path and the reason. Touches
// files.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ambient::testing {

class TempDir {
 public:
  // "<temporary folder>/<prefix>-XXXXXX", made by mkdtemp(3) with mode 0700. The temporary
  // folder is $TMPDIR, else /tmp.
  explicit TempDir(std::string_view prefix = "ambient-test") {
    const char* tmp = std::getenv("TMPDIR");
    const std::string pattern =
        (std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / (std::string(prefix) + "-XXXXXX"))
            .string();
    std::string name = pattern;
    const bool made = ::mkdtemp(name.data()) != nullptr;
    const int err = errno;
    INFO("cannot create a temporary directory " << pattern << ": " << std::strerror(err));
    REQUIRE(made);
    path_ = name;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) {
      std::fprintf(stderr, "cannot remove the temporary directory %s: %s\n", path_.c_str(),
                   ec.message().c_str());
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the directory (not created).
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ambient::testing
