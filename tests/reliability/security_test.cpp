// Security: the agent socket refuses non-root peers, the agent's state files are atomic and
// mode-restricted, one pod's requests cannot release another pod, and nothing listens beyond
// the README's ports table. Touches the kernel and files.
#include <grp.h>
#include <sys/stat.h>

#include <atomic>
#include <regex>
#include <thread>

#include "reliability.h"

#ifndef AMBIENT_ZTUNNEL
#define AMBIENT_ZTUNNEL ""  // built without ztunnel: only the node is checked
#endif

using namespace ambient;
using namespace ambient::testing;

namespace {

// In a child process that dropped to uid/gid 65534 (nobody): connects to `socket` and sends
// one ADD. Returns "connect-errno:<n>" or what came back.
std::string askAsNobody(const std::string& socket, const PodRequest& req) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    std::string out;
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      out = "could not drop privileges";
    } else {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      socket.copy(addr.sun_path, sizeof addr.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        out = "connect-errno:" + std::to_string(errno);
      } else {
        std::string msg = encodeRequest(req);
        (void)::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));
      }
    }
    (void)!write(pipefd[1], out.data(), out.size());
    _exit(0);
  }
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(pipefd[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

std::string modeOf(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return "missing";
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", st.st_mode & 07777);
  return buf;
}

}  // namespace

TEST_CASE("the agent socket refuses non-root peers", "[reliability][security]") {
  NodeTopology t;
  TestNetns app("app");
  t.addPod(app, "vethapp", "10.244.1.10");
  AgentHarness h(t.node);
  h.start();
  REQUIRE(h.registerZtunnel(t));
  auto req = podAdd("foo", "app", app.path(), "10.244.1.10");
  // As installed: the socket is 0600, so the kernel refuses the connect itself.
  std::string byMode = askAsNobody(h.socket(), req);
  CHECK(byMode == "connect-errno:" + std::to_string(EACCES));
  // Opened up by mistake: the agent's SO_PEERCRED check still refuses, and enrolls nothing.
  must("chmod 0755 $(dirname " + h.socket() + ") && chmod 0666 " + h.socket());
  std::string byCred = askAsNobody(h.socket(), req);
  INFO(byCred);
  auto reply = decodeReply(byCred);
  bool refused = reply && reply->verdict == PodVerdict::kError &&
                 reply->message.find("only root") != std::string::npos;
  CHECK(refused);
  CHECK(enrolledSet(t.node).empty());
  CHECK(h.log().find("refused a connection from uid 65534") != std::string::npos);
  // Root still works.
  CHECK(h.send(req)->verdict == PodVerdict::kEnrolled);
  report("agent socket refuses non-root", 2, (byMode == "connect-errno:13") + refused,
         "uid 65534: connect EACCES (0600 socket); with 0666: refused by SO_PEERCRED, 0 enrolled");
}

TEST_CASE("agent state files are written atomically and mode-restricted with no temp files left",
          "[reliability][security]") {
  const int kPods = 16;
  NodeTopology t;
  PodBatch pods(t, kPods, 9);
  AgentHarness h(t.node);
  h.reconcileInterval = 1;
  h.start();
  REQUIRE(h.registerZtunnel(t));
  // A reader races the writer: every registry.json it sees must be complete JSON (the writer
  // replaces it by rename, never in place). Churn makes the journal compact many times.
  std::string reg = h.stateDir() + "/registry.json";
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, torn{0};
  std::thread reader([&] {
    while (!stop) {
      std::ifstream in(reg);
      if (!in) continue;
      std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (s.empty()) continue;
      ++reads;
      torn += !nlohmann::json::accept(s);
    }
  });
  int compactions = 0;
  std::string lastSnapshot;
  for (int round = 0; round < trials(30); ++round) {
    for (int i = 0; i < kPods; ++i) REQUIRE(h.send(pods.add(i))->verdict == PodVerdict::kEnrolled);
    for (int i = 0; i < kPods; ++i)
      REQUIRE(h.send(delOf(pods.add(i)))->verdict == PodVerdict::kReleased);
    std::string now = sh("stat -c %i " + reg).out;  // a new inode per atomic replace
    compactions += !now.empty() && now != lastSnapshot;
    lastSnapshot = now;
  }
  stop = true;
  reader.join();

  std::map<std::string, std::string> want = {{"", "0700"},
                                             {"registry.json", "0600"},
                                             {"registry.json.journal", "0600"},
                                             {"sysctl-ledger.json", "0600"},
                                             {"sysctl-ledger.json.journal", "0600"},
                                             {"agent-config.json", "0600"},
                                             {"not-enrolled.json", "0600"}};
  std::string listing = must("ls -A " + h.stateDir());
  std::string bad;
  std::istringstream names(listing);
  for (std::string name; std::getline(names, name);) {
    if (name.find(".tmp") != std::string::npos) bad += "temp file left: " + name + "\n";
    if (!want.count(name))
      bad += "unexpected file: " + name + " " + modeOf(h.stateDir() + "/" + name) + "\n";
  }
  int checked = 0, good = 0;
  for (const auto& [name, mode] : want) {
    std::string path = h.stateDir() + (name.empty() ? "" : "/" + name);
    std::string have = modeOf(path);
    if (have == "missing") continue;  // e.g. a ledger not compacted yet
    ++checked;
    if (have == mode)
      ++good;
    else
      bad += path + " has mode " + have + ", want " + mode + "\n";
  }
  std::string sockMode = modeOf(h.socket());
  std::string sockDirMode = modeOf(h.socket().substr(0, h.socket().rfind('/')));
  if (sockMode != "0600") bad += "socket mode " + sockMode + "\n";
  report("state files atomic and mode-restricted", int(reads), int(reads - torn),
         std::to_string(reads) + " racing reads, " + std::to_string(torn) + " torn, " +
             std::to_string(compactions) + " snapshot replacements; " + std::to_string(good) + "/" +
             std::to_string(checked) + " files at 0600/0700, socket " + sockMode +
             (bad.empty() ? ", no temp files" : ""));
  INFO(bad << "listing:\n" << listing << "socket dir " << sockDirMode);
  CHECK(torn == 0);
  CHECK(reads > 0);
  CHECK(bad.empty());
}

TEST_CASE("one pod's CNI requests cannot release or opt out another pod",
          "[reliability][security]") {
  NodeTopology t;
  TestNetns victim("victim"), attacker("attacker");
  t.addPod(victim, "vethvic", "10.244.1.20");
  t.addPod(attacker, "vethatt", "10.244.1.21");
  AgentHarness h(t.node);
  h.writeMetadata(R"({"namespaces": {"foo": {"labels": {"istio.io/dataplane-mode": "ambient"}},
                                     "plain": {"labels": {}}},
                      "pods": {)" +
                  std::string(kZtunnelPodMetadata) + R"(,
                               "foo/optout": {"annotations":
                                   {"ambient.istio.io/redirection": "disabled"}}}})");
  h.reconcileInterval = 3600;
  h.start();
  REQUIRE(h.registerZtunnel(t));
  auto victimAdd = podAdd("foo", "victim", victim.path(), "10.244.1.20");
  REQUIRE(h.send(victimAdd)->verdict == PodVerdict::kEnrolled);
  const std::string vip = "10.244.1.20";
  auto victimIntact = [&] {
    return enrolledSet(t.node).count(vip) == 1 &&
           must(t.node.ip("route show table 100")).find(vip + " via") != std::string::npos &&
           sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify")).rc == 0;
  };
  struct Attempt {
    std::string what;
    PodRequest req;
  };
  auto mk = [&](const std::string& ns, const std::string& name, const std::string& ip) {
    return podAdd(ns, name, attacker.path(), ip);
  };
  std::vector<Attempt> attempts;
  // ADDs claiming the victim's IP, from a plain pod, an opted-out pod and an ambient pod,
  // each followed by that pod's DEL.
  for (auto [ns, name] : {std::pair{"plain", "web"}, {"foo", "optout"}, {"foo", "twin"}}) {
    auto add = mk(ns, name, vip);
    attempts.push_back({std::string("ADD ") + ns + "/" + name + " with the victim's IP", add});
    attempts.push_back(
        {std::string("DEL ") + ns + "/" + name + " with the victim's IP", delOf(add)});
  }
  // DELs naming the victim without its UID or container ID.
  auto byName = delOf(mk("foo", "victim", vip));
  byName.podUid = "uid-other";
  byName.containerId = "c-other";
  attempts.push_back({"DEL with the victim's namespace/name, other UID and container", byName});
  auto byNetns = delOf(mk("foo", "x", vip));
  byNetns.netns = victim.path();
  attempts.push_back({"DEL of another pod with the victim's netns path", byNetns});
  // An ADD reusing the victim's name with another UID (a recreated pod) that opted out is
  // judged by its own record and leaves the victim's UID enrolled.
  int held = 0;
  std::string broken;
  for (const auto& a : attempts) {
    auto r = h.send(a.req);
    bool ok = r.has_value() && victimIntact();
    held += ok;
    if (!ok) {
      broken += a.what + ": reply " + (r ? r->message : "none") + "; set has victim " +
                std::to_string(enrolledSet(t.node).count(vip)) + "; verify " +
                sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify")).out +
                "\n";
    }
  }
  report("a pod cannot opt another pod out", int(attempts.size()), held,
         std::to_string(held) + "/" + std::to_string(attempts.size()) +
             " crafted ADD/DEL left the victim enrolled and verify clean");
  INFO(broken);
  CHECK(held == int(attempts.size()));
}

TEST_CASE("nothing listens beyond the README's ports table", "[reliability][security]") {
  NodeTopology t;
  // The README's table: port, proto, where (node / ztunnel pod), loopback-only or not.
  std::ifstream readme(std::string(AMBIENT_REPO) + "/README.md");
  std::string line;
  bool inPorts = false;
  struct Allowed {
    bool node = false, zt = false, loopback = false;
  };
  std::map<std::string, Allowed> allowed;  // "tcp/15001"
  std::regex row(R"(^\| (\d+)(/udp)? \| ([^|]*)\|)");
  while (std::getline(readme, line)) {
    if (line.rfind("## ", 0) == 0) inPorts = line == "## Ports";
    std::smatch m;
    if (!inPorts || !std::regex_search(line, m, row)) continue;
    Allowed a;
    std::string where = m[3];
    a.node = where.find("node") != std::string::npos;
    a.zt = where.find("ztunnel pod") != std::string::npos;
    a.loopback = where.find("127.0.0.1") != std::string::npos ||
                 where.find("localhost") != std::string::npos;
    allowed[(m[2].matched ? "udp/" : "tcp/") + m[1].str()] = a;
  }
  REQUIRE(allowed.size() >= 8);

  // The agent with its default --http-addr, and ztunnel with its defaults, in fresh namespaces.
  AgentHarness h(t.node);
  std::string dir = h.stateDir();
  Background agent(t.node.exec(kAgentBinary + " run --socket " + dir +
                               "/../agent.sock --state-dir " + dir + " --metadata-file " + dir +
                               "/../meta.json"));
  REQUIRE(agent.waitFor("\"serving\"", 60000));
  REQUIRE(h.registerZtunnel(t));
  std::ofstream(dir + "/../zt.json") << R"({"workloads": [], "services": [], "policies": []})";
  REQUIRE(std::string(AMBIENT_ZTUNNEL) != "");
  Background zt(
      t.zt.exec(std::string(AMBIENT_ZTUNNEL) + " --config " + dir + "/../zt.json --node node-a"));
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    ready = sh(t.zt.exec("curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready")).rc == 0;
    if (!ready) usleep(50 * 1000);
  }
  REQUIRE(ready);

  int seen = 0, ok = 0;
  std::string extra, listing;
  for (auto [ns, isNode] : {std::pair{&t.node, true}, {&t.zt, false}}) {
    std::string out = must(ns->exec("ss -ltnuH"));
    listing += out;
    std::istringstream lines(out);
    for (std::string l; std::getline(lines, l);) {
      std::istringstream f(l);
      std::string proto, state, rq, sq, local;
      f >> proto >> state >> rq >> sq >> local;
      std::string port = local.substr(local.rfind(':') + 1);
      std::string addr = local.substr(0, local.rfind(':'));
      std::string key = proto + "/" + port;
      ++seen;
      auto it = allowed.find(key);
      bool loop = addr.rfind("127.", 0) == 0 || addr == "[::1]";
      bool fine = it != allowed.end() && (isNode ? it->second.node : it->second.zt) &&
                  (!it->second.loopback || loop);
      ok += fine;
      if (!fine) extra += std::string(isNode ? "node: " : "ztunnel pod: ") + l + "\n";
    }
  }
  report("nothing listens beyond the README ports", seen, ok,
         std::to_string(seen) + " listening sockets in node+ztunnel netns, " +
             std::to_string(seen - ok) + " not in the table");
  INFO(extra << "all:\n" << listing);
  CHECK(extra.empty());
  CHECK(seen >= 4);
}
