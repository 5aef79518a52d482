// Lowers our rule expressions (NftExpr) to libnftnl expressions and lifts the kernel's back,
// attribute by attribute, so that desired and observed rules compare as data.
// Touches no kernel, but links libnftnl.
#pragma once

// libnftnl's headers use FILE without including <cstdio>, which must come first.
// clang-format off
#include <cstdio>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
// clang-format on

#include "common/core/error.h"
#include "common/core/nft_spec.h"

namespace ambient {

// Adds the rule's expressions to `rule`.
Status lowerRule(const NftRule& in, nftnl_rule* rule);
// Reads a kernel rule: expressions we know are lifted with the attributes we compare; a
// counter's values go to NftRule::counter; unknown expressions stay as their bare kind, which
// never equals a rule of ours.
NftRule liftRule(nftnl_rule* rule);

}  // namespace ambient
