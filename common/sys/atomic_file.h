// Whole-file writes that a crash never leaves half done. Touches files. Depends on libc only, so
// that the CNI plugin side can link it without the engine's netlink libraries.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/core/error.h"

namespace ambient {

// Writes the file at `path` atomically: `fill` writes the content into a new temp file in the
// same directory (passed as fd and temp path), then fsync, rename over `path`, fsync of the
// directory. A reader sees the old file or the new one, never a mix; on any failure the temp
// file is removed and `path` is untouched. `mode` is set exactly (the umask does not narrow it).
Status replaceFileAtomic(const std::string& path, mode_t mode,
                         const std::function<Status(int fd, const std::string& tmpPath)>& fill);
// replaceFileAtomic with `content` as the new bytes.
Status writeFileAtomic(const std::string& path, const std::string& content, mode_t mode = 0600);
// Writes all of `size` bytes to `fd` (EINTR retried); errors name `path`, and ENOSPC says so.
Status writeAllTo(int fd, const char* data, size_t size, const std::string& path);

}  // namespace ambient
