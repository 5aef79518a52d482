// In-memory informer store: objects of one kind keyed by "namespace/name", fed by list results
// and watch events, tracking the resourceVersion to resume from. Pure, not thread-safe (the
// Informer locks it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/k8s/watch_event.h"

namespace ambient::k8s {

enum class ChangeType { kAdded, kUpdated, kDeleted };

template <class T>
struct Change {
  ChangeType type = ChangeType::kAdded;
  std::optional<T> before;  // absent for kAdded
  std::optional<T> after;   // absent for kDeleted

  const T& object() const { return after ? *after : *before; }
};

template <class T>
class ObjectStore {
 public:
  // Replaces the content with a list result and returns the changes that lead there: deletes
  // for keys gone, adds for new keys, updates where the resourceVersion differs.
  std::vector<Change<T>> replace(std::vector<T> items, std::string resourceVersion) {
    std::map<std::string, T> next;
    for (auto& item : items) {
      std::string key = item.meta.key();
      next.insert_or_assign(std::move(key), std::move(item));
    }
    std::vector<Change<T>> changes;
    for (const auto& [key, old] : objects_) {
      if (!next.count(key)) changes.push_back({ChangeType::kDeleted, old, std::nullopt});
    }
    for (const auto& [key, item] : next) {
      auto it = objects_.find(key);
      if (it == objects_.end()) {
        changes.push_back({ChangeType::kAdded, std::nullopt, item});
      } else if (it->second.meta.resourceVersion != item.meta.resourceVersion ||
                 item.meta.resourceVersion.empty()) {
        changes.push_back({ChangeType::kUpdated, it->second, item});
      }
    }
    objects_ = std::move(next);
    resourceVersion_ = std::move(resourceVersion);
    return changes;
  }

  // Applies one ADDED/MODIFIED/DELETED event; nullopt when nothing changed (the delete of an
  // unknown key). Bookmarks and errors are not objects: use setResourceVersion.
  std::optional<Change<T>> apply(WatchEventType type, T object) {
    if (!object.meta.resourceVersion.empty()) resourceVersion_ = object.meta.resourceVersion;
    std::string key = object.meta.key();
    auto it = objects_.find(key);
    if (type == WatchEventType::kDeleted) {
      if (it == objects_.end()) return std::nullopt;
      Change<T> change{ChangeType::kDeleted, std::move(it->second), std::nullopt};
      objects_.erase(it);
      return change;
    }
    if (type != WatchEventType::kAdded && type != WatchEventType::kModified) return std::nullopt;
    if (it == objects_.end()) {
      objects_.emplace(key, object);
      return Change<T>{ChangeType::kAdded, std::nullopt, std::move(object)};
    }
    Change<T> change{ChangeType::kUpdated, it->second, object};
    it->second = std::move(object);
    return change;
  }

  void setResourceVersion(std::string rv) {
    if (!rv.empty()) resourceVersion_ = std::move(rv);
  }
  const std::string& resourceVersion() const { return resourceVersion_; }

  const T* find(const std::string& key) const {
    auto it = objects_.find(key);
    return it == objects_.end() ? nullptr : &it->second;
  }
  std::vector<T> list() const {
    std::vector<T> out;
    out.reserve(objects_.size());
    for (const auto& [key, value] : objects_) out.push_back(value);
    return out;
  }
  size_t size() const { return objects_.size(); }

 private:
  std::map<std::string, T> objects_;
  std::string resourceVersion_;
};

}  // namespace ambient::k8s
