// libFuzzer target: ztunnel's GET /denials body as ambientctl decodes it. A decoded list keeps
// every entry's destination (non-empty) and its address part is a part of it; the policy report
// filters by it without crashing. Pure.
#include "ambientctl/core/denial_list.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto list = ambient::decodeDenials(fuzz::asView(data, size));
  if (!list) {
    fuzz::check(!list.error().message().empty());
    return 0;
  }
  for (const ambient::Denial& d : list->denials) {
    fuzz::check(!d.destination.empty());
    std::string address = d.destinationAddress();
    fuzz::check(address.size() <= d.destination.size());
    fuzz::check(d.destination.find(address) != std::string::npos);
  }
  return 0;
}
