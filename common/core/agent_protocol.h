// The local protocol between ambient-cni and ambient-agent: one JSON request, one JSON reply
// per Unix-socket connection, each at most kMaxMessageBytes and ended by a newline. Defined
// once here for both sides. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/core/if_name.h"
#include "common/core/ip_address.h"

namespace ambient {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr const char* kDefaultAgentSocket = "/var/run/ambient/agent.sock";

// CNI spec error codes the agent may ask the plugin to return.
inline constexpr uint32_t kCniErrIncompatibleVersion = 1;
inline constexpr uint32_t kCniErrUnsupportedField = 2;
inline constexpr uint32_t kCniErrUnknownContainer = 3;
inline constexpr uint32_t kCniErrInvalidEnv = 4;
inline constexpr uint32_t kCniErrIo = 5;
inline constexpr uint32_t kCniErrDecode = 6;
inline constexpr uint32_t kCniErrInvalidConfig = 7;
inline constexpr uint32_t kCniErrTryAgainLater = 11;
// CNI 1.1 STATUS: "the plugin is not available (cannot service ADD requests)".
inline constexpr uint32_t kCniErrPluginNotAvailable = 50;

// kStatus (CNI 1.1 STATUS) asks whether the agent can serve ADDs; kGc (CNI 1.1 GC) carries the
// runtime's valid attachments, and the agent releases the pods it registered for any other.
enum class PodCommand { kAdd, kDel, kCheck, kStatus, kGc };
std::string_view podCommandName(PodCommand c);

// One entry of the runtime's cni.dev/valid-attachments (GC).
struct Attachment {
  std::string containerId;
  IfName ifname;
  bool operator==(const Attachment&) const = default;
  auto operator<=>(const Attachment&) const = default;
};

struct PodRequest {
  int version = kProtocolVersion;
  PodCommand command = PodCommand::kAdd;
  std::string containerId;
  std::string netns;  // CNI_NETNS (may be empty on DEL)
  IfName ifname;      // CNI_IFNAME (empty only for STATUS and GC)
  std::string podNamespace;
  std::string podName;
  std::string podUid;
  std::vector<IpAddress> ips;                // the pod's addresses on CNI_IFNAME, from prevResult
  std::vector<Attachment> validAttachments;  // GC only
  bool operator==(const PodRequest&) const = default;
};

enum class PodVerdict {
  kEnrolled,    // ambient: redirection is in place
  kNotAmbient,  // not ambient (or not enrolled): nothing done
  kReleased,    // DEL: redirection removed (or there was none)
  kReady,       // STATUS: the agent can serve ADDs
  kError,       // see cniCode and message
};
std::string_view podVerdictName(PodVerdict v);

struct PodReply {
  PodVerdict verdict = PodVerdict::kError;
  uint32_t cniCode = 0;
  std::string message;
  bool operator==(const PodReply&) const = default;
};

std::string encodeRequest(const PodRequest& r);
Result<PodRequest> decodeRequest(std::string_view text);
std::string encodeReply(const PodReply& r);
Result<PodReply> decodeReply(std::string_view text);

}  // namespace ambient
