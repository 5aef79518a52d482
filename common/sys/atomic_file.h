// Whole-file writes that a crash never leaves half done. Touches files.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/core/error.h"

namespace ambient {

// Writes `content` to `path` atomically: a temp file in the same directory, fsync, rename, fsync
// of the directory. A reader sees the old file or the new one, never a mix. `mode` is set
// exactly (the umask does not narrow it).
Status writeFileAtomic(const std::string& path, const std::string& content, mode_t mode = 0600);

}  // namespace ambient
