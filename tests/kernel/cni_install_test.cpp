// The real ambient-cni-install binary on a temporary CNI config directory: --watch puts the
// entry back when the primary CNI rewrites its config, SIGTERM leaves it, uninstall restores
// the directory byte for byte; exit codes. Needs no namespace, only files. Touches files.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "kernel_fixture.h"
#include "tests/support/temp_dir.h"

using namespace ambient::testing;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

const std::string kInstaller = std::string(AMBIENT_CNI_DIR) + "/ambient-cni-install";
const std::string kPlugin = std::string(AMBIENT_CNI_DIR) + "/ambient-cni";

const char* kCalico = R"({
    "name": "k8s-pod-network",
    "cniVersion": "0.3.1",
    "plugins": [
        {"type": "calico", "mtu": 1410, "ipam": {"type": "calico-ipam"}},
        {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
    ]
}
)";

std::string readAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void writeFile(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

// Every file of the directory (hidden ones too) with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename()] = readAll(e.path());
  return out;
}

bool pollUntil(const std::function<bool()>& done, int timeoutMs = 10000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The plugin types of a conflist, "" when it is missing or not JSON.
std::string types(const fs::path& p) {
  auto j = json::parse(readAll(p), nullptr, false);
  if (!j.is_object() || !j.contains("plugins")) return "";
  std::string out;
  for (const auto& pl : j["plugins"]) out += (out.empty() ? "" : ",") + pl.value("type", "?");
  return out;
}

class Installer {
 public:
  Installer(const std::vector<std::string>& args, const fs::path& log) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv{const_cast<char*>(kInstaller.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(kInstaller.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Installer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Sends `sig` and returns the exit code (-1: killed by a signal or no exit within 10 s).
  int stop(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    bool exited = pollUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    if (!exited) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

// Fails the test with the installer's log when `done` does not become true within 10 s.
void requireEventually(const std::function<bool()>& done, const fs::path& log, const char* what) {
  if (!pollUntil(done))
    FAIL(what << " did not happen within 10 s; installer log:\n" << readAll(log));
}

int runInstaller(const std::string& args) {
  return sh(kInstaller + " " + args).rc;
}

}  // namespace

TEST_CASE("ambient-cni-install --watch re-inserts after the primary CNI rewrites its config",
          "[cni][install]") {
  TempDir conf("cniinst-conf"), bin("cniinst-bin"), work("cniinst-work");
  writeFile(conf.path() / "05-broken.conflist", "{ half a config");
  writeFile(conf.path() / "10-calico.conflist", kCalico);
  Installer inst({"--cni-conf-dir", conf.path(), "--cni-bin-dir", bin.path(), "--plugin-binary",
                  kPlugin, "--agent-socket", "/run/test-agent.sock", "--log-file",
                  "/var/log/ambient-cni.log", "--watch"},
                 work.path() / "installer.log");
  const fs::path primary = conf.path() / "10-calico.conflist";
  const fs::path log = work.path() / "installer.log";
  requireEventually([&] { return types(primary) == "calico,portmap,ambient-cni"; }, log,
                    "the ambient-cni entry");
  auto entry = json::parse(readAll(primary))["plugins"][2];
  CHECK(entry["agentSocket"] == "/run/test-agent.sock");
  CHECK(entry["logFile"] == "/var/log/ambient-cni.log");
  CHECK_FALSE(entry.contains("kubeconfig"));
  struct stat st {};
  REQUIRE(::stat((bin.path() / "ambient-cni").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
  CHECK(readAll(bin.path() / "ambient-cni") == readAll(kPlugin));
  // The agent-down fallback's API helper goes next to the plugin.
  REQUIRE(::stat((bin.path() / "ambient-cni-api-lookup").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
  CHECK(readAll(bin.path() / "ambient-cni-api-lookup") == readAll(kPlugin + "-api-lookup"));
  REQUIRE(::stat(primary.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(readAll(conf.path() / "05-broken.conflist") == "{ half a config");

  // The primary CNI replaces its config (temp file + rename), without our entry.
  json v2 = json::parse(kCalico);
  v2["plugins"][0]["mtu"] = 1380;
  writeFile(conf.path() / "calico.tmp", v2.dump(4));
  fs::rename(conf.path() / "calico.tmp", primary);
  requireEventually(
      [&] {
        auto j = json::parse(readAll(primary), nullptr, false);
        return types(primary) == "calico,portmap,ambient-cni" && j["plugins"][0]["mtu"] == 1380;
      },
      log, "re-insertion after a replace");

  // ... then rewrites it in place (truncate + write).
  json v3 = json::parse(kCalico);
  v3["plugins"][0]["mtu"] = 1300;
  const std::string v3Bytes = v3.dump(2) + "\n";
  writeFile(primary, v3Bytes);
  requireEventually(
      [&] {
        auto j = json::parse(readAll(primary), nullptr, false);
        return types(primary) == "calico,portmap,ambient-cni" && j["plugins"][0]["mtu"] == 1300;
      },
      log, "re-insertion after an in-place rewrite");

  CHECK(inst.stop(SIGTERM) == 0);
  CHECK(types(primary) == "calico,portmap,ambient-cni");
  CHECK(readAll(work.path() / "installer.log").find("stopping on signal") != std::string::npos);

  // Uninstall gives back the primary CNI's last version byte for byte, and removes the binary.
  CHECK(runInstaller("--uninstall --cni-conf-dir " + conf.path().string()) == 0);
  CHECK(snapshot(conf.path()) ==
        std::map<std::string, std::string>{{"05-broken.conflist", "{ half a config"},
                                           {"10-calico.conflist", v3Bytes}});
  CHECK(snapshot(bin.path()).empty());
}

TEST_CASE("ambient-cni-install --watch waits for a primary config to appear", "[cni][install]") {
  TempDir conf("cniinst-conf"), bin("cniinst-bin"), work("cniinst-work");
  Installer inst({"--cni-conf-dir", conf.path(), "--cni-bin-dir", bin.path(), "--watch"},
                 work.path() / "installer.log");
  const fs::path log = work.path() / "installer.log";
  requireEventually(
      [&] {
        return readAll(work.path() / "installer.log").find("waiting for a primary CNI config") !=
               std::string::npos;
      },
      log, "the waiting log line");
  const std::string conf1 = R"({"cniVersion":"1.0.0","name":"br","type":"bridge"})";
  writeFile(conf.path() / "10-br.conf", conf1);
  // The wrapper is renamed into place before the .conf is removed: wait for both.
  requireEventually(
      [&] {
        return types(conf.path() / "10-br.conflist") == "bridge,ambient-cni" &&
               !fs::exists(conf.path() / "10-br.conf");
      },
      log, "wrapping of the new .conf");
  CHECK(inst.stop(SIGTERM) == 0);
  CHECK(runInstaller("--uninstall --cni-conf-dir " + conf.path().string()) == 0);
  CHECK(snapshot(conf.path()) == std::map<std::string, std::string>{{"10-br.conf", conf1}});
}

TEST_CASE("ambient-cni-install then --uninstall leaves the directory byte-identical",
          "[cni][install]") {
  TempDir conf("cniinst-conf"), bin("cniinst-bin");
  writeFile(conf.path() / "00-notes.conflist", "not json at all\n");
  writeFile(conf.path() / "10-flannel.conf",
            "{\n\t\"name\": \"cbr0\",\n\t\"cniVersion\": \"0.3.1\",\n\t\"type\": \"flannel\"\n}\n");
  writeFile(conf.path() / "99-loopback.conf",
            R"({"cniVersion":"0.3.1","name":"lo","type":"loopback"})");
  writeFile(conf.path() / "README", "keep me");
  const auto orig = snapshot(conf.path());
  std::string args = "--cni-conf-dir " + conf.path().string() + " --cni-bin-dir " +
                     bin.path().string() + " --plugin-binary " + kPlugin +
                     " --kubeconfig /etc/cni/net.d/ambient-kubeconfig";
  REQUIRE(runInstaller(args) == 0);
  CHECK(types(conf.path() / "10-flannel.conflist") == "flannel,ambient-cni");
  CHECK(json::parse(readAll(conf.path() / "10-flannel.conflist"))["plugins"][1]["kubeconfig"] ==
        "/etc/cni/net.d/ambient-kubeconfig");
  CHECK_FALSE(fs::exists(conf.path() / "10-flannel.conf"));
  const auto installed = snapshot(conf.path());
  REQUIRE(runInstaller(args) == 0);  // idempotent
  CHECK(snapshot(conf.path()) == installed);
  REQUIRE(runInstaller("--uninstall --cni-conf-dir " + conf.path().string()) == 0);
  CHECK(snapshot(conf.path()) == orig);
  CHECK_FALSE(fs::exists(bin.path() / "ambient-cni"));
  CHECK(fs::exists(kPlugin + "-api-lookup"));
  CHECK_FALSE(fs::exists(bin.path() / "ambient-cni-api-lookup"));
}

TEST_CASE("ambient-cni-install exit codes", "[cni][install]") {
  TempDir conf;
  CHECK(runInstaller("--help") == 0);
  CHECK(runInstaller("--frobnicate") == 2);
  CHECK(runInstaller("--watch --uninstall") == 2);
  CHECK(runInstaller("--cni-conf-dir " + conf.path().string()) == 3);
  CHECK(runInstaller("--cni-conf-dir " + (conf.path() / "missing").string()) == 4);
  writeFile(conf.path() / "10-old.conf", R"({"cniVersion":"0.2.0","name":"o","type":"bridge"})");
  CHECK(runInstaller("--cni-conf-dir " + conf.path().string()) == 5);
  CHECK(snapshot(conf.path()).size() == 1);
}
