#!/usr/bin/python3
"""A small CRI client (runtime.v1 RuntimeService) for the tests: the calls kubelet makes to run
and remove a pod sandbox, over python3-grpcio's generic channel, with the few protobuf messages
it needs encoded and decoded by hand. Talks to a container runtime's socket; no kernel access.

Library:  CriClient(socket).run_pod(...), .pod_status(id), .stop_pod(id), .remove_pod(id),
          .list_pods(), .version()
CLI:      cri.py --socket PATH version|run|status|stop|remove|list ...   (JSON on stdout)
Field numbers follow k8s.io/cri-api pkg/apis/runtime/v1/api.proto.
"""
import argparse
import json
import sys

import grpc  # Debian's python3-grpcio: run with /usr/bin/python3

SERVICE = "/runtime.v1.RuntimeService/"

# Wire types of the protobuf encoding.
VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5

# Enums of api.proto.
NS_POD, NS_CONTAINER, NS_NODE = 0, 1, 2  # NamespaceMode
SANDBOX_STATES = {0: "SANDBOX_READY", 1: "SANDBOX_NOTREADY"}  # PodSandboxState


# ---- encoding ---------------------------------------------------------------------------------
def _varint(n):
    if n < 0:
        n += 1 << 64  # int64 negatives take ten bytes, as two's complement
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def enc_varint(field, n):
    """An int/uint/enum/bool field; proto3 leaves a zero value out."""
    return _key(field, VARINT) + _varint(int(n)) if n else b""


def enc_bytes(field, data, keep_empty=False):
    if not data and not keep_empty:
        return b""
    return _key(field, LEN) + _varint(len(data)) + data


def enc_str(field, s):
    return enc_bytes(field, (s or "").encode())


def enc_msg(field, body):
    """An embedded message; present (even when empty) so the receiver sees it set."""
    return enc_bytes(field, body, keep_empty=True)


def enc_map(field, mapping):
    """map<string,string>: one entry message {key = 1, value = 2} per pair."""
    return b"".join(enc_msg(field, enc_str(1, k) + enc_str(2, v))
                    for k, v in sorted((mapping or {}).items()))


def enc_repeated_str(field, items):
    return b"".join(enc_bytes(field, s.encode(), keep_empty=True) for s in items or [])


# ---- decoding ---------------------------------------------------------------------------------
def _read_varint(buf, pos):
    shift = n = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def decode(buf):
    """Splits a message into {field: [values]}: ints for varints and fixed fields, bytes for
    length-delimited ones (strings and embedded messages, decoded further by the caller)."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == FIXED64:
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == FIXED32:
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        elif wire == LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field %d" % field)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        else:
            raise ValueError("unsupported wire type %d (field %d)" % (wire, field))
        fields.setdefault(field, []).append(value)
    return fields


def dec_str(fields, n):
    return fields[n][-1].decode() if n in fields else ""


def dec_int(fields, n):
    return fields[n][-1] if n in fields else 0


def dec_msg(fields, n):
    return decode(fields[n][-1]) if n in fields else {}


def dec_map(fields, n):
    out = {}
    for entry in fields.get(n, []):
        e = decode(entry)
        out[dec_str(e, 1)] = dec_str(e, 2)
    return out


# ---- the messages -----------------------------------------------------------------------------
def pod_sandbox_metadata(name, uid, namespace, attempt=0):
    # PodSandboxMetadata: name = 1, uid = 2, namespace = 3, attempt = 4
    return enc_str(1, name) + enc_str(2, uid) + enc_str(3, namespace) + enc_varint(4, attempt)


def pod_sandbox_config(name, uid, namespace, attempt=0, hostname="", log_directory="",
                       dns_servers=(), dns_searches=(), labels=None, annotations=None,
                       cgroup_parent=""):
    # DNSConfig: servers = 1, searches = 2, options = 3
    dns = enc_repeated_str(1, dns_servers) + enc_repeated_str(2, dns_searches)
    # NamespaceOption: network = 1, pid = 2, ipc = 3 (kubelet's defaults: POD, CONTAINER, POD)
    ns_options = enc_varint(1, NS_POD) + enc_varint(2, NS_CONTAINER) + enc_varint(3, NS_POD)
    # LinuxSandboxSecurityContext: namespace_options = 1
    security = enc_msg(1, ns_options)
    # LinuxPodSandboxConfig: cgroup_parent = 1, security_context = 2
    linux = enc_str(1, cgroup_parent) + enc_msg(2, security)
    # PodSandboxConfig: metadata = 1, hostname = 2, log_directory = 3, dns_config = 4,
    # labels = 6, annotations = 7, linux = 8
    return (enc_msg(1, pod_sandbox_metadata(name, uid, namespace, attempt)) +
            enc_str(2, hostname) + enc_str(3, log_directory) + enc_msg(4, dns) +
            enc_map(6, labels) + enc_map(7, annotations) + enc_msg(8, linux))


def parse_metadata(f):
    return {"name": dec_str(f, 1), "uid": dec_str(f, 2), "namespace": dec_str(f, 3),
            "attempt": dec_int(f, 4)}


def parse_sandbox_status_response(buf):
    """PodSandboxStatusResponse: status = 1, info = 2 (verbose only)."""
    top = decode(buf)
    status = dec_msg(top, 1)
    # PodSandboxStatus: id = 1, metadata = 2, state = 3, created_at = 4, network = 5,
    # linux = 6, labels = 7, annotations = 8, runtime_handler = 9
    network = dec_msg(status, 5)  # PodSandboxNetworkStatus: ip = 1, additional_ips = 2
    extra = [dec_str(decode(p), 1) for p in network.get(2, [])]  # PodIP: ip = 1
    out = {
        "id": dec_str(status, 1),
        "metadata": parse_metadata(dec_msg(status, 2)),
        "state": SANDBOX_STATES.get(dec_int(status, 3), str(dec_int(status, 3))),
        "createdAt": dec_int(status, 4),
        "ip": dec_str(network, 1),
        "additionalIps": extra,
        "labels": dec_map(status, 7),
        "annotations": dec_map(status, 8),
        "netns": "",
        "pid": 0,
    }
    info = dec_map(top, 2)
    # containerd's verbose info: {"info": JSON of its sandbox record}, whose runtimeSpec names
    # the network namespace the sandbox joined (the path the runtime gave the CNI plugins).
    try:
        record = json.loads(info.get("info", "{}"))
    except ValueError:
        record = {}
    out["pid"] = record.get("pid", 0)
    spec_ns = record.get("runtimeSpec", {}).get("linux", {}).get("namespaces", [])
    for ns in spec_ns:
        if ns.get("type") == "network":
            out["netns"] = ns.get("path", "")
    return out


def parse_list_response(buf):
    pods = []
    for item in decode(buf).get(1, []):  # ListPodSandboxResponse: items = 1
        f = decode(item)
        # PodSandbox: id = 1, metadata = 2, state = 3, created_at = 4, labels = 5,
        # annotations = 6
        pods.append({"id": dec_str(f, 1), "metadata": parse_metadata(dec_msg(f, 2)),
                     "state": SANDBOX_STATES.get(dec_int(f, 3), str(dec_int(f, 3))),
                     "labels": dec_map(f, 5), "annotations": dec_map(f, 6)})
    return pods


class CriError(Exception):
    pass


class CriClient:
    """One gRPC channel to a CRI socket; every call bounded by `timeout` seconds."""

    def __init__(self, socket, timeout=60.0):
        self.socket = socket
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket)

    def close(self):
        self.channel.close()

    def call(self, method, request, timeout=None):
        rpc = self.channel.unary_unary(SERVICE + method, request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
        try:
            return rpc(request, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise CriError("%s on %s: %s: %s" % (method, self.socket, e.code().name,
                                                 e.details())) from None

    def version(self):
        # VersionRequest: version = 1; VersionResponse: version = 1, runtime_name = 2,
        # runtime_version = 3, runtime_api_version = 4
        f = decode(self.call("Version", enc_str(1, "v1")))
        return {"version": dec_str(f, 1), "runtimeName": dec_str(f, 2),
                "runtimeVersion": dec_str(f, 3), "runtimeApiVersion": dec_str(f, 4)}

    def run_pod(self, **config):
        # RunPodSandboxRequest: config = 1, runtime_handler = 2; response: pod_sandbox_id = 1
        handler = config.pop("runtime_handler", "")
        request = enc_msg(1, pod_sandbox_config(**config)) + enc_str(2, handler)
        return dec_str(decode(self.call("RunPodSandbox", request)), 1)

    def pod_status(self, sandbox_id):
        # PodSandboxStatusRequest: pod_sandbox_id = 1, verbose = 2
        request = enc_str(1, sandbox_id) + enc_varint(2, True)
        return parse_sandbox_status_response(self.call("PodSandboxStatus", request))

    def stop_pod(self, sandbox_id):
        self.call("StopPodSandbox", enc_str(1, sandbox_id))  # pod_sandbox_id = 1

    def remove_pod(self, sandbox_id):
        self.call("RemovePodSandbox", enc_str(1, sandbox_id))  # pod_sandbox_id = 1

    def list_pods(self):
        return parse_list_response(self.call("ListPodSandbox", b""))


def _pairs(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit("cri.py: %r is not KEY=VALUE" % item)
        k, v = item.split("=", 1)
        out[k] = v
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="A small CRI client for the tests (JSON output).")
    p.add_argument("--socket", required=True, help="the runtime's CRI socket")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per call [60]")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    run = sub.add_parser("run", help="RunPodSandbox, then PodSandboxStatus")
    run.add_argument("--name", required=True)
    run.add_argument("--namespace", required=True)
    run.add_argument("--uid", help="default uid-<namespace>-<name>")
    run.add_argument("--attempt", type=int, default=0)
    run.add_argument("--hostname", default="")
    run.add_argument("--log-directory", default="")
    run.add_argument("--dns-server", action="append", default=[])
    run.add_argument("--label", action="append", help="KEY=VALUE")
    run.add_argument("--annotation", action="append", help="KEY=VALUE")
    run.add_argument("--runtime-handler", default="")
    run.add_argument("--cgroup-parent", default="", help="LinuxPodSandboxConfig.cgroup_parent")
    for name in ("status", "stop", "remove"):
        sub.add_parser(name).add_argument("id")
    sub.add_parser("list")
    a = p.parse_args(argv)

    client = CriClient(a.socket, a.timeout)
    try:
        if a.cmd == "version":
            out = client.version()
        elif a.cmd == "run":
            sandbox = client.run_pod(
                name=a.name, uid=a.uid or "uid-%s-%s" % (a.namespace, a.name),
                namespace=a.namespace, attempt=a.attempt, hostname=a.hostname or a.name,
                log_directory=a.log_directory, dns_servers=a.dns_server,
                labels=_pairs(a.label), annotations=_pairs(a.annotation),
                cgroup_parent=a.cgroup_parent, runtime_handler=a.runtime_handler)
            out = client.pod_status(sandbox)
        elif a.cmd == "status":
            out = client.pod_status(a.id)
        elif a.cmd == "stop":
            client.stop_pod(a.id)
            out = {"id": a.id, "stopped": True}
        elif a.cmd == "remove":
            client.remove_pod(a.id)
            out = {"id": a.id, "removed": True}
        else:
            out = client.list_pods()
    except CriError as e:
        print(json.dumps({"error": str(e)}))
        return 1
    finally:
        client.close()
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
