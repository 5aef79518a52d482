#!/usr/bin/python3
"""Independent HBONE peer built on python3-h2 (Debian) and the ssl module, for interop tests.

client HOST PORT AUTHORITY CERT_DIR|- CA_FILE [METHOD] [EXPECT_SAN] [PAYLOAD_BYTES]
    mTLS (TLS 1.3, ALPN h2) to HOST:PORT, send METHOD (CONNECT) for AUTHORITY; on 200 read the
    upstream greeting, send a payload, half-close and check the echo. Prints JSON.
server IP PORT CERT_DIR CA_FILE
    mTLS HBONE server (a stand-in waypoint): answers every CONNECT with 200, greets
    "waypoint <authority>,<client SPIFFE id>", echoes, ends with "END <n>".
raw HOST PORT HEX|tls-then-garbage CA CERT_DIR
    send raw bytes (or a TLS handshake followed by a bad HTTP/2 preface); print whether the
    peer closed the connection.
Client ALPN: env HBONE_ALPN ("none" = offer no ALPN, else a comma list; default h2).
Debian's h2 4.1 insists on :scheme/:path even for CONNECT unless header validation is off.
"""
import json, os, socket, ssl, sys, threading

import h2.config, h2.connection, h2.events


def tls_context(server, cert_dir, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    alpn = os.environ.get("HBONE_ALPN", "h2") if not server else "h2"
    if alpn != "none":
        ctx.set_alpn_protocols(alpn.split(","))
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if not server:
        ctx.check_hostname = False
    if cert_dir and cert_dir != "-":
        ctx.load_cert_chain(os.path.join(cert_dir, "cert-chain.pem"), os.path.join(cert_dir, "key.pem"))
    return ctx


def h2conn(client):
    return h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=client, header_encoding="utf-8",
        validate_outbound_headers=False, validate_inbound_headers=False))


def peer_uri(sock):
    for kind, value in (sock.getpeercert() or {}).get("subjectAltName", ()):
        if kind == "URI":
            return value
    return ""


def client(host, port, authority, cert_dir, ca, method="CONNECT", expect_san="", nbytes="1000"):
    out = {"status": None}
    try:
        raw = socket.create_connection((host, int(port)), timeout=10)
        s = tls_context(False, cert_dir, ca).wrap_socket(raw)
        out["server_identity"] = peer_uri(s)
        if expect_san and out["server_identity"] != expect_san:
            out["error"] = "server identity mismatch"
            print(json.dumps(out))
            return 1
        c = h2conn(True)
        c.initiate_connection()
        headers = [(":method", method), (":authority", authority)]
        if method != "CONNECT":
            headers += [(":scheme", "https"), (":path", "/")]
        c.send_headers(1, headers)
        s.sendall(c.data_to_send())
        body, payload, ended = bytearray(), os.urandom(int(nbytes)), False
        sent = False
        while not ended:
            data = s.recv(65536)
            if not data:
                out["error"] = "connection closed"
                break
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    out["status"] = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body.extend(ev.data)
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended = True
            if out["status"] == 200 and not sent and b"\n" in body:
                out["greeting"] = bytes(body[:body.index(b"\n")]).decode()
                del body[:body.index(b"\n") + 1]
                c.send_data(1, payload, end_stream=True)
                sent = True
            s.sendall(c.data_to_send())
        if out["status"] == 200:
            out["echo_ok"] = bytes(body) == payload + f"END {len(payload)}\n".encode()
    except (OSError, ssl.SSLError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))
    return 0 if out.get("echo_ok") else 1


def serve_conn(raw, ctx):
    try:
        s = ctx.wrap_socket(raw, server_side=True)
        who = peer_uri(s)
        c = h2conn(False)
        c.initiate_connection()
        s.sendall(c.data_to_send())
        counts = {}
        while True:
            data = s.recv(65536)
            if not data:
                return
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    h = dict(ev.headers)
                    c.send_headers(ev.stream_id, [(":status", "200")])
                    c.send_data(ev.stream_id, f"waypoint {h.get(':authority')},{who}\n".encode())
                    counts[ev.stream_id] = 0
                elif isinstance(ev, h2.events.DataReceived):
                    counts[ev.stream_id] = counts.get(ev.stream_id, 0) + len(ev.data)
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if ev.data:
                        c.send_data(ev.stream_id, ev.data)
                elif isinstance(ev, h2.events.StreamEnded):
                    c.send_data(ev.stream_id, f"END {counts.get(ev.stream_id, 0)}\n".encode(), end_stream=True)
            s.sendall(c.data_to_send())
    except Exception:
        pass
    finally:
        raw.close()


def server(ip, port, cert_dir, ca):
    ctx = tls_context(True, cert_dir, ca)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, int(port)))
    ls.listen(64)
    while True:
        raw, _ = ls.accept()
        threading.Thread(target=serve_conn, args=(raw, ctx), daemon=True).start()


def raw(host, port, what, ca="", cert_dir=""):
    s = socket.create_connection((host, int(port)), timeout=10)
    if what == "tls-then-garbage":
        s = tls_context(False, cert_dir, ca).wrap_socket(s)
        s.sendall(b"this is not the HTTP/2 client preface at all\r\n\r\n")
    else:
        s.sendall(bytes.fromhex(what))
    closed = False
    try:  # whatever the peer sent first (e.g. its SETTINGS), it must then close
        for _ in range(64):
            if s.recv(4096) == b"":
                closed = True
                break
    except (OSError, ssl.SSLError) as e:
        closed = not isinstance(e, socket.timeout)
    print(json.dumps({"closed": closed}))
    return 0 if closed else 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"client": client, "server": server, "raw": raw}[cmd](*args) or 0)
