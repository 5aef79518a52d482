// Lookups in the cluster snapshot. Pure.
#include "common/mesh/cluster_state.h"

namespace ambient {

const NamespaceMeta* MetadataSnapshot::ns(const std::string& name) const {
  auto it = namespaces.find(name);
  return it == namespaces.end() ? nullptr : &it->second;
}

const PodMeta* MetadataSnapshot::pod(const std::string& n, const std::string& name) const {
  auto it = pods.find(n + "/" + name);
  return it == pods.end() ? nullptr : &it->second;
}

}  // namespace ambient
