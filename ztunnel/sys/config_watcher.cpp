// Config file polling and atomic publication. Touches the file system.
#include "ztunnel/sys/config_watcher.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/log/log.h"
#include "ztunnel/core/workload_view_policies.h"

namespace zt {
namespace {

// One line per load for each policy that is not enforced as written.
void logPolicyProblems(const ViewPolicies& policies) {
  for (const authz::AuthorizationPolicy& p : policies.authorization.policies()) {
    if (p.status == authz::PolicyStatus::kOk) continue;
    std::string l7;
    for (const std::string& f : p.l7Fields) l7 += (l7.empty() ? "" : ",") + f;
    ambient::logLine(ambient::LogLevel::kWarn, "authorization policy not enforced as written",
                     {{"policy", p.key()},
                      {"status", std::string(policyStatusName(p.status))},
                      {"reason", p.statusReason},
                      {"l7_fields", l7}});
  }
  for (const authz::PeerAuthentication& p : policies.peerAuthentication.policies()) {
    if (p.status == authz::PolicyStatus::kOk) continue;
    ambient::logLine(ambient::LogLevel::kWarn, "peer authentication not enforced as written",
                     {{"policy", p.key()},
                      {"status", std::string(policyStatusName(p.status))},
                      {"reason", p.statusReason}});
  }
  for (const std::string& r : policies.rejected)
    ambient::logLine(ambient::LogLevel::kWarn, "policy dropped: no name or namespace to scope it",
                     {{"reason", r}});
}

}  // namespace

Status ConfigWatcher::poll() {
  const std::string& path = state_.opts.configPath;
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return {};
    return fail(ErrorCode::kIo, "stat config " + path, errno);
  }
  if (loaded_ && st.st_ino == inode_ && st.st_size == size_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec)
    return {};
  inode_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kIo, "open config " + path, errno);
  std::stringstream text;
  text << in.rdbuf();
  auto view = parseWorkloadView(text.str(), state_.opts.trustDomain);
  if (!view) {
    ++state_.metrics.configReloadFailures;
    return fail(view.error().wrap(path));
  }
  logPolicyProblems(view->policies);
  size_t workloads = view->workloads.size();
  size_t services = view->services.size();
  size_t policies = view->policies.authorization.policies().size() +
                    view->policies.peerAuthentication.policies().size();
  state_.view.store(std::make_shared<const WorkloadView>(std::move(*view)));
  ++state_.metrics.configReloads;
  ++published_;
  ambient::logLine(ambient::LogLevel::kInfo, loaded_ ? "config reloaded" : "config loaded",
                   {{"path", path},
                    {"workloads", std::to_string(workloads)},
                    {"services", std::to_string(services)},
                    {"policies", std::to_string(policies)}});
  loaded_ = true;
  return {};
}

}  // namespace zt
