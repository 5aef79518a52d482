// Benchmark traffic peers run inside namespaces: an epoll server (sink, echo, idle) and the
// clients measuring throughput, request/response latency, or holding idle connections.
#pragma once

#include <string>
#include <vector>

namespace ztbench {

// serve PORT: mode byte 'T' sink then report the byte count, 'L' echo, 'I' idle.
int runServer(const std::vector<std::string>& args);
// client T HOST PORT SECONDS | client L HOST PORT ITERATIONS | client I HOST PORT COUNT
// HOLD_SECONDS
int runClient(const std::vector<std::string>& args);

}  // namespace ztbench
