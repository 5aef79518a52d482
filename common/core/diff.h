// diff: the changes that turn observed kernel state into a plan. Matches objects on their
// identity keys, emits every delete before any create, and is empty for a plan diffed against
// its own applied state. Pure.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "common/core/plan.h"

namespace ambient {

// Set members to add or remove, in one nft batch.
struct NftElements {
  NftFamily family = NftFamily::kIp;
  std::string table;
  std::string set;
  std::vector<IpAddress> elements;
  bool operator==(const NftElements&) const = default;
};

enum class ChangeKind {
  kDelete,  // remove the object (sysctl: restore the recorded original value)
  kCreate,  // add the object (sysctl: record the original, then write)
  kUpdate,  // tunnel: set MTU/up in place; sysctl: write; nft table: replace atomically
};

using ChangeObject = std::variant<TunnelSpec, AddressSpec, RouteSpec, RuleSpec, SysctlSpec,
                                  NftTableSpec, NftElements>;

struct Change {
  ChangeKind kind;
  ChangeObject object;
  bool operator==(const Change&) const = default;
};

struct ChangeSet {
  NetnsRole role = NetnsRole::kNode;
  std::vector<Change> changes;
  bool empty() const { return changes.empty(); }
};

ChangeSet diff(const NetnsPlan& desired, const ObservedState& observed);

// Human-readable identity of a change's object: "route 10.0.0.5/32 table 100".
std::string describe(const ChangeObject& object);

}  // namespace ambient
