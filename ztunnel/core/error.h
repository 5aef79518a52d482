// ztunnel uses the project's one error and result type (common/core/error.h). Pure.
#pragma once

#include "common/core/error.h"

namespace zt {

using ambient::Error;
using ambient::ErrorCode;
using ambient::errorCodeName;
using ambient::fail;
using ambient::Result;
using ambient::Status;

}  // namespace zt
