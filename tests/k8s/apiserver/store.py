# Object store of the test API server: objects, the global resourceVersion, the event history
# with its compaction horizon, selectors and merge patches. Pure (no sockets).
import copy
import datetime
import threading
import uuid

# resource name -> (apiVersion, kind, namespaced)
RESOURCES = {
    "namespaces": ("v1", "Namespace", False),
    "pods": ("v1", "Pod", True),
    "services": ("v1", "Service", True),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice", True),
    # Istio's CRDs: stored as v1, served at every version in Store.crd_versions.
    "authorizationpolicies": ("security.istio.io/v1", "AuthorizationPolicy", True),
    "peerauthentications": ("security.istio.io/v1", "PeerAuthentication", True),
}
CRD_GROUP = "security.istio.io"
CRD_RESOURCES = ("authorizationpolicies", "peerauthentications")


class SelectorError(ValueError):
    pass


def _parse_terms(text, what):
    """Splits "a=b,c!=d,e,!f" into (key, op, value) terms; op in =, !=, exists, !exists."""
    terms = []
    for raw in (text or "").split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif what == "label" and term.startswith("!"):
            terms.append((term[1:].strip(), "!exists", ""))
        elif what == "label" and " " not in term and "(" not in term:
            terms.append((term, "exists", ""))
        else:
            raise SelectorError(f"unsupported {what} selector term '{term}'")
    return terms


FIELD_PATHS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "spec.nodeName": ("spec", "nodeName"),
    "status.phase": ("status", "phase"),
}


class Selector:
    def __init__(self, label_selector=None, field_selector=None):
        self.labels = _parse_terms(label_selector, "label")
        self.fields = _parse_terms(field_selector, "field")
        for key, op, _ in self.fields:
            if key not in FIELD_PATHS or op not in ("=", "!="):
                raise SelectorError(f"field label not supported: {key}")

    def matches(self, obj):
        if obj is None:
            return False
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, op, value in self.labels:
            if op == "=" and labels.get(key) != value:
                return False
            if op == "!=" and labels.get(key) == value:
                return False
            if op == "exists" and key not in labels:
                return False
            if op == "!exists" and key in labels:
                return False
        for key, op, value in self.fields:
            outer, inner = FIELD_PATHS[key]
            actual = (obj.get(outer) or {}).get(inner) or ""
            if (actual == value) != (op == "="):
                return False
        return True


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """All state behind one lock; `changed` is notified on every event and on drops."""

    def __init__(self):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.rv = 1
        self.horizon = 1  # a watch from an RV below this gets 410 Expired
        self.objects = {}  # (resource, namespace, name) -> object
        self.history = []  # (rv, resource, type, object, previous object)
        self.watch_generation = 0  # bumped to drop every open watch
        self.bookmark_generation = 0  # bumped to ask every watch for a bookmark now
        self.open_watches = 0
        self.patches = []
        self.requests = []
        # Versions of the security.istio.io CRDs served; [] answers 404 as a cluster without
        # Istio's CRDs does. `crd_forbidden` answers 403 instead (RBAC without the rule).
        self.crd_versions = ["v1", "v1beta1"]
        self.crd_forbidden = False

    # All methods below expect the caller to hold self.lock.
    def _record(self, resource, event_type, obj, previous):
        self.history.append((self.rv, resource, event_type, copy.deepcopy(obj), previous))
        self.changed.notify_all()

    def apply(self, resource, obj):
        """Creates or replaces an object (control interface); returns the stored copy."""
        if resource not in RESOURCES:
            raise KeyError(f"unknown resource '{resource}'")
        api_version, kind, namespaced = RESOURCES[resource]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError("object has no metadata.name")
        if namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (resource, meta.get("namespace", ""), meta["name"])
        previous = self.objects.get(key)
        if previous is not None:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
        obj["apiVersion"] = api_version
        obj["kind"] = kind
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._record(resource, "ADDED" if previous is None else "MODIFIED", obj, previous)
        return copy.deepcopy(obj)

    def delete(self, resource, namespace, name):
        key = (resource, namespace or "", name)
        previous = self.objects.pop(key, None)
        if previous is None:
            return None
        self.rv += 1
        gone = copy.deepcopy(previous)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._record(resource, "DELETED", gone, previous)
        return gone

    def patch(self, resource, namespace, name, body):
        key = (resource, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            return None
        patched = merge_patch(current, body)
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if field in current["metadata"]:
                patched["metadata"][field] = current["metadata"][field]
        patched["kind"], patched["apiVersion"] = current["kind"], current["apiVersion"]
        self.rv += 1
        patched["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[key] = patched
        self._record(resource, "MODIFIED", patched, current)
        return copy.deepcopy(patched)

    def compact(self, rv=None):
        """Forgets history up to `rv` (default: everything); older watches then get 410."""
        target = self.rv if rv is None else min(int(rv), self.rv)
        self.horizon = max(self.horizon, target)
        self.history = [h for h in self.history if h[0] > self.horizon]

    def select(self, resource, namespace, selector):
        items = []
        for (res, ns, _), obj in sorted(self.objects.items()):
            if res == resource and (not namespace or ns == namespace) and selector.matches(obj):
                items.append(copy.deepcopy(obj))
        return items

    def events_after(self, rv, resource, namespace, selector):
        """Events newer than rv as the watcher sees them: an object that starts matching the
        selector is ADDED, one that stops matching is DELETED (as kube-apiserver does)."""
        out = []
        for event_rv, res, event_type, obj, previous in self.history:
            if event_rv <= rv or res != resource:
                continue
            if namespace and obj["metadata"].get("namespace") != namespace:
                continue
            now, before = selector.matches(obj), selector.matches(previous)
            if event_type == "DELETED":
                if before:
                    out.append((event_rv, "DELETED", obj))
            elif now and before:
                out.append((event_rv, "MODIFIED", obj))
            elif now:
                out.append((event_rv, "ADDED", obj))
            elif before:
                out.append((event_rv, "DELETED", obj))
        return out
