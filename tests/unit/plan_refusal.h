// The check that a plan input is refused: computeNodePlan fails with kInvalidInput and a
// message naming what is wrong. Pure.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "common/core/compute_plan.h"

namespace ambient::testing {

inline void checkNodePlanRefused(const PlanInput& bad, const std::string& words) {
  auto r = computeNodePlan(bad);
  INFO(words);
  REQUIRE_FALSE(r);
  INFO(r.error().message());
  CHECK(r.error().code == ErrorCode::kInvalidInput);
  CHECK_THAT(r.error().message(), Catch::Matchers::Contains(words));
}

}  // namespace ambient::testing
