// Runs ambient-cni-api-lookup and reads its one reply line within a deadline. Touches processes.
#include "cni-plugin/sys/exec_metadata_lookup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>

#include "cni-plugin/core/lookup_reply.h"

extern char** environ;

namespace ambient::cni {

std::string ExecMetadataLookup::besideSelf() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, size_t(n)) : "";
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/" +
         kApiLookupBinary;
}

Result<ApiObjects> ExecMetadataLookup::lookup(const ApiLookupTarget& target,
                                              const std::string& podNamespace,
                                              const std::string& podName) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(target.timeoutMs + 1000);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail(ErrorCode::kIo, "pipe for " + helperPath_, errno);
  std::string timeout = std::to_string(target.timeoutMs);
  char* argv[] = {const_cast<char*>(helperPath_.c_str()),
                  const_cast<char*>(target.kubeconfig.c_str()),
                  timeout.data(),
                  const_cast<char*>(podNamespace.c_str()),
                  const_cast<char*>(podName.c_str()),
                  nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, helperPath_.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return fail(ErrorCode::kUnavailable, "cannot run " + helperPath_, rc);
  }
  std::string reply;
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    int pr = ::poll(&pfd, 1, int(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;  // the deadline check above ends the loop
    char buf[8192];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, size_t(n));
    if (reply.size() > (4u << 20)) break;  // far beyond two objects: stop reading
  }
  ::close(out[0]);
  if (timedOut) ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return fail(ErrorCode::kUnavailable, helperPath_ + " did not answer within apiTimeoutMs + 1 s");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail(ErrorCode::kUnavailable,
                helperPath_ + " failed (" +
                    (WIFEXITED(st) ? "exit code " + std::to_string(WEXITSTATUS(st))
                                   : "signal " + std::to_string(WTERMSIG(st))) +
                    "; its stderr is in the runtime's log)");
  return parseLookupReply(reply);
}

}  // namespace ambient::cni
