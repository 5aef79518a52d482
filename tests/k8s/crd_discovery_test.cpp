// Choosing a custom resource's served version from the answers to listing each (issue 22):
// v1 first, v1beta1 when v1 is 404, absent when every version is 404, 403 and other errors
// told apart. Pure.
#include "common/k8s/crd_discovery.h"

#include <catch2/catch.hpp>

using namespace ambient;
using namespace ambient::k8s;

namespace {

Status answer(ErrorCode code, const std::string& text) {
  return fail(code, text);
}

}  // namespace

TEST_CASE("the first served version is chosen, 404s fall through to the next") {
  auto v1 = chooseCrdVersion({Status{}});
  CHECK(v1.state == CrdState::kServed);
  CHECK(v1.version == 0);
  auto v1beta1 = chooseCrdVersion({answer(ErrorCode::kNotFound, "HTTP 404 NotFound"), Status{}});
  CHECK(v1beta1.state == CrdState::kServed);
  CHECK(v1beta1.version == 1);
}

TEST_CASE("404 at every version is an absent CRD, 403 is forbidden, others are failures") {
  auto absent = chooseCrdVersion({answer(ErrorCode::kNotFound, "get v1: HTTP 404 NotFound"),
                                  answer(ErrorCode::kNotFound, "get v1beta1: HTTP 404 NotFound")});
  CHECK(absent.state == CrdState::kAbsent);
  CHECK(absent.why.find("v1beta1") != std::string::npos);
  auto forbidden = chooseCrdVersion(
      {answer(ErrorCode::kUnavailable,
              "get /apis/security.istio.io/v1/authorizationpolicies?limit=1: HTTP 403 Forbidden: "
              "cannot list (check the service account's RBAC)")});
  CHECK(forbidden.state == CrdState::kForbidden);
  CHECK(forbidden.why.find("RBAC") != std::string::npos);
  auto down = chooseCrdVersion({answer(ErrorCode::kUnavailable, "HTTP 503 ServiceUnavailable")});
  CHECK(down.state == CrdState::kFailed);
  // A 404 then a failure: not known to be absent.
  auto then = chooseCrdVersion(
      {answer(ErrorCode::kNotFound, "HTTP 404"), answer(ErrorCode::kUnavailable, "refused")});
  CHECK(then.state == CrdState::kFailed);
  CHECK(chooseCrdVersion({}).state == CrdState::kFailed);
}

TEST_CASE("the probe lists one object of the version's collection") {
  CHECK(renderProbeTarget(kAuthorizationPolicies) ==
        "/apis/security.istio.io/v1/authorizationpolicies?limit=1");
  CHECK(renderProbeTarget(kPeerAuthenticationsV1beta1) ==
        "/apis/security.istio.io/v1beta1/peerauthentications?limit=1");
}
