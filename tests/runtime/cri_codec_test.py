#!/usr/bin/python3
"""Unit test of cri.py's hand-written protobuf encoding and decoding (pure; no runtime):
byte strings worked out by hand from the protobuf encoding rules and api.proto's field numbers."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cri  # noqa: E402

failures = 0


def check(what, got, want):
    global failures
    if got != want:
        failures += 1
        print("FAIL %s:\n  got  %r\n  want %r" % (what, got, want))
    else:
        print("ok   %s" % what)


# varints: 1 byte below 128, 300 = ac 02, int64 -1 = ten bytes
check("varint 1", cri._varint(1), b"\x01")
check("varint 300", cri._varint(300), b"\xac\x02")
check("varint -1 (int64)", cri._varint(-1), b"\xff" * 9 + b"\x01")
check("varint round trip", cri._read_varint(cri._varint(2 ** 40 + 5), 0), (2 ** 40 + 5, 6))

# PodSandboxMetadata {name "a" (1), uid "u" (2), namespace "n" (3), attempt 1 (4)}
check("PodSandboxMetadata", cri.pod_sandbox_metadata("a", "u", "n", 1),
      bytes.fromhex("0a0161 120175 1a016e 2001".replace(" ", "")))
check("attempt 0 left out (proto3 default)", cri.pod_sandbox_metadata("a", "u", "n", 0),
      bytes.fromhex("0a0161120175 1a016e".replace(" ", "")))

# map<string,string> labels = 6: entry {key = 1, value = 2}
check("labels map entry", cri.enc_map(6, {"k": "v"}), bytes.fromhex("3206 0a016b 120176".replace(" ", "")))

# PodSandboxConfig: the linux part is {security_context (2) {namespace_options (1)
# {pid (2) = CONTAINER (1)}}}; network (1) = POD (0) is the default, so left out.
config = cri.pod_sandbox_config("a", "u", "n", hostname="h", labels={"k": "v"})
fields = cri.decode(config)
check("config field numbers (metadata, hostname, dns, labels, linux)", sorted(fields),
      [1, 2, 4, 6, 8])
check("config metadata and hostname", (cri.parse_metadata(cri.dec_msg(fields, 1)),
                                       cri.dec_str(fields, 2)),
      ({"name": "a", "uid": "u", "namespace": "n", "attempt": 0}, "h"))
linux = cri.dec_msg(fields, 8)
ns_options = cri.dec_msg(cri.dec_msg(linux, 2), 1)
check("namespace options: network POD (absent), pid CONTAINER",
      (ns_options.get(1), cri.dec_int(ns_options, 2)), (None, cri.NS_CONTAINER))

# A PodSandboxStatusResponse built by hand: status {id "x" (1), metadata (2) {name "p"},
# state NOTREADY (3), network (5) {ip "10.0.0.2" (1), additional_ips (2) {ip "fd00::2"}},
# labels (7) {"app": "s"}}, info (2) {"info": containerd's JSON with the netns path}.
meta = cri.enc_str(1, "p")
network = cri.enc_str(1, "10.0.0.2") + cri.enc_msg(2, cri.enc_str(1, "fd00::2"))
status = (cri.enc_str(1, "x") + cri.enc_msg(2, meta) + cri.enc_varint(3, 1) +
          cri.enc_msg(5, network) + cri.enc_map(7, {"app": "s"}))
info = json.dumps({"pid": 42, "runtimeSpec": {"linux": {"namespaces": [
    {"type": "pid"}, {"type": "network", "path": "/run/x/netns/cni-1"}]}}})
parsed = cri.parse_sandbox_status_response(cri.enc_msg(1, status) + cri.enc_map(2, {"info": info}))
check("status id, state, ip", (parsed["id"], parsed["state"], parsed["ip"]),
      ("x", "SANDBOX_NOTREADY", "10.0.0.2"))
check("status additional ips, labels, name", (parsed["additionalIps"], parsed["labels"],
                                             parsed["metadata"]["name"]),
      (["fd00::2"], {"app": "s"}, "p"))
check("netns and pid from the verbose info", (parsed["netns"], parsed["pid"]),
      ("/run/x/netns/cni-1", 42))

# Unknown fields of other wire types are skipped: fixed64 (field 9) and fixed32 (field 10).
extra = cri._key(9, cri.FIXED64) + b"\x00" * 8 + cri._key(10, cri.FIXED32) + b"\x01\x00\x00\x00"
check("fixed fields decoded", sorted(cri.decode(extra + cri.enc_str(1, "y")).items()),
      [(1, [b"y"]), (9, [0]), (10, [1])])
try:
    cri.decode(b"\x0a\x05ab")
    check("truncated message refused", "accepted", "ValueError")
except ValueError:
    check("truncated message refused", "ValueError", "ValueError")

print("%d failed" % failures)
sys.exit(1 if failures else 0)
