#!/usr/bin/env python3
"""Test Kubernetes API server (python3 stdlib only): the project's one stand-in for a real
component. Speaks the list/watch/get/merge-patch JSON of kube-apiserver for core/v1 namespaces,
pods, services, discovery.k8s.io/v1 endpointslices and Istio's security.istio.io authorizationpolicies
and peerauthentications (v1 and v1beta1, or none), plus a control interface under /_test/.

Usage: apiserver.py [--port N] [--host 127.0.0.1] [--port-file F] [--token-file F]
                    [--tls-cert F --tls-key F] [--bookmark-interval SECONDS]
                    [--parent-pid PID] [--watch-timeout S] [--max-hang S]
                    [--crd-versions v1,v1beta1] [--verbose]
  --port 0 (default) picks a free port and prints it as stdout's first line.
  --token-file: every API request needs "Authorization: Bearer <file content>"; the file is
                re-read on each request, so tests can rotate the token.
Control interface (JSON bodies, no auth): see README.md next to this file.
Exit codes: 0 on SIGTERM/SIGINT, 2 bad usage.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store import CRD_GROUP, CRD_RESOURCES, RESOURCES, Selector, SelectorError, Store  # noqa: E402

STORE = Store()
FAULTS = {"mode": None, "count": 0, "code": 500}
RELEASE_HANGS = threading.Event()
OPTIONS = None


def status_object(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def parse_path(path):
    """Returns (resource, namespace, name, apiVersion served) for an API path, or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        served, rest = "v1", parts[2:]
    elif parts[:3] == ["apis", "discovery.k8s.io", "v1"]:
        served, rest = "discovery.k8s.io/v1", parts[3:]
    elif parts[:2] == ["apis", CRD_GROUP] and len(parts) > 2 and parts[2] in STORE.crd_versions:
        served, rest = CRD_GROUP + "/" + parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":
        return ("namespaces", None, rest[1], "v1") if served == "v1" else None
    if not rest or rest[0] not in RESOURCES or len(rest) > 2:
        return None
    resource = rest[0]
    if resource in CRD_RESOURCES:
        if not served.startswith(CRD_GROUP + "/"):
            return None
    elif RESOURCES[resource][0] != served:
        return None
    return (resource, namespace, rest[1] if len(rest) == 2 else None, served)


def as_served(obj, api_version):
    """A CRD object as served at one version (kube-apiserver converts; the schemas are equal)."""
    if obj is not None and obj.get("kind") in ("AuthorizationPolicy", "PeerAuthentication"):
        obj = dict(obj, apiVersion=api_version)
    return obj


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if OPTIONS.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    # ---- plumbing ----
    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_status(self, code, reason, message, details=None):
        self.send_json(code, status_object(code, reason, message, details))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def reset_connection(self):
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def inject_fault(self):
        """Consumes one injected fault; returns True when the request was handled by it."""
        with STORE.lock:
            if FAULTS["count"] <= 0:
                return False
            FAULTS["count"] -= 1
            mode, code = FAULTS["mode"], FAULTS["code"]
        if mode == "hang":
            RELEASE_HANGS.wait(OPTIONS.max_hang)
            self.close_connection = True
        elif mode == "reset":
            self.reset_connection()
        else:
            self.send_status(code, "InternalError", f"injected fault: status {code}")
        return True

    def authorized(self):
        header = self.headers.get("Authorization") or ""
        with STORE.lock:
            STORE.requests.append({"method": self.command, "path": self.path,
                                   "authorization": header})
            del STORE.requests[:-1000]
        if not OPTIONS.token_file:
            return True
        try:
            with open(OPTIONS.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError:
            token = None
        if token and header == "Bearer " + token:
            return True
        self.send_status(401, "Unauthorized", "Unauthorized")
        return False

    # ---- verbs ----
    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/_test/"):
            return self.control("GET", url.path, b"")
        if not self.authorized() or self.inject_fault():
            return
        if STORE.crd_forbidden and url.path.startswith(f"/apis/{CRD_GROUP}/"):
            what = url.path.split("/")[-1]
            return self.send_status(403, "Forbidden", f'{what}.{CRD_GROUP} is forbidden: User "system:serviceaccount:istio-system:ambient-agent" cannot list resource "{what}" in API group "{CRD_GROUP}" at the cluster scope')
        target = parse_path(url.path)
        if target is None:
            return self.send_status(404, "NotFound", f"the server could not find the requested resource ({url.path})")
        resource, namespace, name, served = target
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if name is not None:
            with STORE.lock:
                obj = as_served(STORE.objects.get((resource, namespace or "", name)), served)
            if obj is None:
                return self.send_status(404, "NotFound", f'{resource} "{name}" not found',
                                        {"name": name, "kind": resource})
            return self.send_json(200, obj)
        try:
            selector = Selector(query.get("labelSelector"), query.get("fieldSelector"))
        except SelectorError as e:
            return self.send_status(400, "BadRequest", str(e))
        if query.get("watch") in ("1", "true"):
            return self.watch(resource, namespace, selector, query, served)
        _, kind, _ = RESOURCES[resource]
        with STORE.lock:
            items, rv = STORE.select(resource, namespace, selector), STORE.rv
        for i, item in enumerate(items):
            if resource in CRD_RESOURCES:  # custom resources' list items keep them
                items[i] = as_served(item, served)
            else:  # kube-apiserver's built-in list items carry no kind/apiVersion
                item.pop("kind", None)
                item.pop("apiVersion", None)
        self.send_json(200, {"kind": kind + "List", "apiVersion": served,
                             "metadata": {"resourceVersion": str(rv)}, "items": items})

    def do_PATCH(self):
        url = urlsplit(self.path)
        if not self.authorized() or self.inject_fault():
            return
        target = parse_path(url.path)
        body = self.read_body()
        if target is None or target[2] is None:
            return self.send_status(405, "MethodNotAllowed", "PATCH needs a single object path")
        resource, namespace, name, _ = target
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in ("application/merge-patch+json",
                                "application/strategic-merge-patch+json"):
            return self.send_status(415, "UnsupportedMediaType",
                                    f"the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got '{content_type}')")
        try:
            patch = json.loads(body or b"null")
            if not isinstance(patch, dict):
                raise ValueError("patch is not a JSON object")
        except ValueError as e:
            return self.send_status(400, "BadRequest", f"invalid merge patch: {e}")
        with STORE.lock:
            STORE.patches.append({"resource": resource, "namespace": namespace or "",
                                  "name": name, "contentType": content_type, "patch": patch})
            current = STORE.objects.get((resource, namespace or "", name))
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if current is not None and want_rv and want_rv != current["metadata"]["resourceVersion"]:
                conflict = True
            else:
                conflict = False
                result = STORE.patch(resource, namespace, name, patch)
        if conflict:
            return self.send_status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; please apply your changes to the latest version and try again')
        if result is None:
            return self.send_status(404, "NotFound", f'{resource} "{name}" not found',
                                    {"name": name, "kind": resource})
        self.send_json(200, result)

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path.startswith("/_test/"):
            return self.control("POST", url.path, self.read_body())
        self.read_body()
        self.send_status(405, "MethodNotAllowed", "this test server only creates objects via /_test/apply")

    do_PUT = do_DELETE = do_POST

    # ---- watch ----
    def watch(self, resource, namespace, selector, query, api_version):
        _, kind, _ = RESOURCES[resource]
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(query.get("timeoutSeconds") or OPTIONS.watch_timeout)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with STORE.lock:
            generation, bm_generation = STORE.watch_generation, STORE.bookmark_generation
            STORE.open_watches += 1
            start = query.get("resourceVersion", "")
            pending = []
            if start in ("", "0"):
                cursor = STORE.rv
                pending = [(cursor, "ADDED", o) for o in STORE.select(resource, namespace, selector)]
            else:
                try:
                    cursor = int(start)
                except ValueError:
                    cursor = -1
                if cursor < STORE.horizon:
                    pending = [(0, "ERROR", status_object(
                        410, "Expired", f"too old resource version: {start} ({STORE.horizon})"))]
        last_bookmark = time.monotonic()
        dropped = False
        try:
            while True:
                for _, event_type, obj in pending:
                    obj = as_served(obj, api_version)
                    self.write_chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
                    if event_type == "ERROR":
                        return self.write_chunk(b"")
                pending = []
                now = time.monotonic()
                if now >= deadline:
                    return self.write_chunk(b"")
                with STORE.lock:
                    if STORE.watch_generation != generation:
                        dropped = True
                        return
                    events = STORE.events_after(cursor, resource, namespace, selector)
                    if not events:
                        wait = deadline - now
                        if bookmarks and OPTIONS.bookmark_interval > 0:
                            wait = min(wait, max(0.0, last_bookmark + OPTIONS.bookmark_interval - now))
                        if STORE.bookmark_generation == bm_generation:
                            STORE.changed.wait(min(wait, 1.0))
                        events = STORE.events_after(cursor, resource, namespace, selector)
                    want_bookmark = bookmarks and not events and (
                        STORE.bookmark_generation != bm_generation or
                        (OPTIONS.bookmark_interval > 0 and
                         time.monotonic() - last_bookmark >= OPTIONS.bookmark_interval))
                    bm_generation = STORE.bookmark_generation
                    if events:
                        cursor = events[-1][0]
                    elif want_bookmark:
                        cursor = max(cursor, STORE.rv)
                    current_rv = STORE.rv
                pending = events
                if want_bookmark:
                    last_bookmark = time.monotonic()
                    pending = [(current_rv, "BOOKMARK", {
                        "kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": str(current_rv)}})]
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            dropped = True
        finally:
            with STORE.lock:
                STORE.open_watches -= 1
            if dropped:
                self.reset_connection()
            self.close_connection = True

    # ---- control interface ----
    def control(self, method, path, body):
        try:
            args = json.loads(body) if body else {}
        except ValueError as e:
            return self.send_json(400, {"error": f"bad JSON: {e}"})
        op = path[len("/_test/"):]
        try:
            with STORE.lock:
                if op == "apply" and method == "POST":
                    result = STORE.apply(args["resource"], args["object"])
                elif op == "delete" and method == "POST":
                    result = STORE.delete(args["resource"], args.get("namespace"), args["name"])
                    if result is None:
                        return self.send_json(404, {"error": "no such object"})
                elif op == "compact" and method == "POST":
                    STORE.compact(args.get("resourceVersion"))
                    result = {"horizon": STORE.horizon}
                elif op == "drop-watches" and method == "POST":
                    STORE.watch_generation += 1
                    STORE.changed.notify_all()
                    result = {"dropped": STORE.open_watches}
                elif op == "bookmark" and method == "POST":
                    STORE.bookmark_generation += 1
                    STORE.changed.notify_all()
                    result = {"resourceVersion": str(STORE.rv)}
                elif op == "fault" and method == "POST":
                    FAULTS.update(mode=args.get("mode", "status"), count=int(args.get("count", 1)),
                                  code=int(args.get("code", 500)))
                    RELEASE_HANGS.clear()
                    result = dict(FAULTS)
                elif op == "release" and method == "POST":
                    FAULTS["count"] = 0
                    RELEASE_HANGS.set()
                    result = {}
                elif op == "patches" and method == "GET":
                    result = {"patches": list(STORE.patches)}
                elif op == "requests" and method == "GET":
                    result = {"requests": list(STORE.requests)}
                elif op == "crds" and method == "POST":
                    versions = args.get("versions", STORE.crd_versions)
                    if not isinstance(versions, list) or not set(versions) <= {"v1", "v1beta1"}:
                        raise ValueError("versions: a list of v1 and/or v1beta1")
                    STORE.crd_versions = list(versions)
                    STORE.crd_forbidden = bool(args.get("forbidden", False))
                    if not versions or STORE.crd_forbidden:  # as a CRD deletion ends its watches
                        STORE.watch_generation += 1
                        STORE.changed.notify_all()
                    result = {"versions": STORE.crd_versions, "forbidden": STORE.crd_forbidden}
                elif op == "state" and method == "GET":
                    result = {"resourceVersion": str(STORE.rv), "horizon": STORE.horizon,
                              "openWatches": STORE.open_watches,
                              "pendingFaults": FAULTS["count"]}
                else:
                    return self.send_json(404, {"error": f"unknown control {method} {path}"})
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, {"error": f"{op}: {e!r}"})
        self.send_json(200, result)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (a stopped informer, a test's fault) is routine here;
        # anything else still gets the standard traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    global OPTIONS
    parser = argparse.ArgumentParser(description="test Kubernetes API server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--token-file")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--bookmark-interval", type=float, default=0.0,
                        help="seconds between periodic bookmarks (0: only on /_test/bookmark)")
    parser.add_argument("--watch-timeout", type=float, default=1800.0,
                        help="server-side watch length when the client sends no timeoutSeconds")
    parser.add_argument("--max-hang", type=float, default=300.0)
    parser.add_argument("--parent-pid", type=int, default=0,
                        help="exit when this process is gone (a test that crashed)")
    parser.add_argument("--crd-versions", default="v1,v1beta1",
                        help="security.istio.io versions served (\"\": no Istio CRDs, 404)")
    parser.add_argument("--verbose", action="store_true")
    OPTIONS = parser.parse_args()
    STORE.crd_versions = [v for v in OPTIONS.crd_versions.split(",") if v]
    if not set(STORE.crd_versions) <= {"v1", "v1beta1"}:
        parser.error("--crd-versions: v1 and/or v1beta1, comma-separated")
    server = Server((OPTIONS.host, OPTIONS.port), Handler)
    if OPTIONS.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(OPTIONS.tls_cert, OPTIONS.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    print(port, flush=True)
    if OPTIONS.port_file:
        tmp = OPTIONS.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(tmp, OPTIONS.port_file)

    def stop(*_):
        RELEASE_HANGS.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    if OPTIONS.parent_pid:
        def watch_parent():
            while True:
                time.sleep(0.5)
                try:
                    os.kill(OPTIONS.parent_pid, 0)
                except ProcessLookupError:
                    return stop()

        threading.Thread(target=watch_parent, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
