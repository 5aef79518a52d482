// Choosing a served CRD version. Pure.
#include "common/k8s/crd_discovery.h"

namespace ambient::k8s {

bool isForbidden(const Error& error) {
  return error.code == ErrorCode::kUnavailable &&
         error.context.find("HTTP 403") != std::string::npos;
}

CrdChoice chooseCrdVersion(const std::vector<Status>& answers) {
  CrdChoice choice;
  if (answers.empty()) {
    choice.why = "not asked yet";
    return choice;
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    const Status& answer = answers[i];
    if (answer) {
      choice.state = CrdState::kServed;
      choice.version = i;
      return choice;
    }
    if (answer.error().isNotFound()) continue;
    choice.state = isForbidden(answer.error()) ? CrdState::kForbidden : CrdState::kFailed;
    choice.why = answer.error().message();
    return choice;
  }
  if (!answers.back()) {
    choice.state = CrdState::kAbsent;
    choice.why = answers.back().error().message();
  }
  return choice;
}

std::string renderProbeTarget(const ResourceType& type) {
  return renderCollectionPath(type, "") + "?limit=1";
}

}  // namespace ambient::k8s
