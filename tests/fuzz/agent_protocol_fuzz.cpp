// libFuzzer target: the plugin <-> agent socket messages. Every input is decoded both as the
// agent reads it (a request) and as the plugin reads it (a reply); a decoded message must
// survive encode -> decode unchanged. Pure.
#include "common/core/agent_protocol.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::asView(data, size);
  if (auto req = ambient::decodeRequest(text)) {
    std::string line = ambient::encodeRequest(*req);
    fuzz::check(!line.empty() && line.back() == '\n' && line.size() <= ambient::kMaxMessageBytes);
    auto again = ambient::decodeRequest(line);
    fuzz::check(again.has_value() && *again == *req);
  }
  if (auto reply = ambient::decodeReply(text)) {
    std::string line = ambient::encodeReply(*reply);
    fuzz::check(!line.empty() && line.back() == '\n');
    auto again = ambient::decodeReply(line);
    fuzz::check(again.has_value() && *again == *reply);
  }
  return 0;
}
