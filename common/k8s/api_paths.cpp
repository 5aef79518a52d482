// REST paths and query strings. Pure.
#include "common/k8s/api_paths.h"

#include <cctype>

namespace ambient::k8s {
namespace {

void addParam(std::string& target, std::string_view key, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += urlEncode(value);
}

}  // namespace

std::string urlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string renderCollectionPath(const ResourceType& type, std::string_view namespace_) {
  std::string path(type.apiPrefix);
  if (type.namespaced && !namespace_.empty()) {
    path += "/namespaces/";
    path += urlEncode(namespace_);
  }
  path += '/';
  path += type.plural;
  return path;
}

std::string renderObjectPath(const ResourceType& type, std::string_view namespace_,
                             std::string_view name) {
  return renderCollectionPath(type, namespace_) + "/" + urlEncode(name);
}

std::string renderListTarget(const ResourceType& type, const ListOptions& options) {
  std::string target = renderCollectionPath(type, options.namespace_);
  if (!options.labelSelector.empty()) addParam(target, "labelSelector", options.labelSelector);
  if (!options.fieldSelector.empty()) addParam(target, "fieldSelector", options.fieldSelector);
  return target;
}

std::string renderWatchTarget(const ResourceType& type, const ListOptions& options,
                              std::string_view resourceVersion, int timeoutSeconds) {
  std::string target = renderListTarget(type, options);
  addParam(target, "watch", "1");
  if (!resourceVersion.empty()) addParam(target, "resourceVersion", resourceVersion);
  addParam(target, "allowWatchBookmarks", "true");
  if (timeoutSeconds > 0) addParam(target, "timeoutSeconds", std::to_string(timeoutSeconds));
  return target;
}

std::string describeWatch(const ResourceType& type, const ListOptions& options) {
  std::string text(type.plural);
  std::string sel;
  auto add = [&sel](std::string_view k, const std::string& v) {
    if (v.empty()) return;
    if (!sel.empty()) sel += ' ';
    sel += k;
    sel += '=';
    sel += v;
  };
  add("namespace", options.namespace_);
  add("labelSelector", options.labelSelector);
  add("fieldSelector", options.fieldSelector);
  return sel.empty() ? text : text + " (" + sel + ")";
}

}  // namespace ambient::k8s
