#!/usr/bin/python3
"""Stand-ins for an Istio sidecar and a waypoint, for the end-to-end tests (python3-h2 + ssl).

HBONE here is the independent implementation of tests/ztunnel/hbone_peer.py (TLS 1.3 with
ALPN h2, SPIFFE URI SANs checked, HTTP/2 CONNECT), one TLS connection per proxied connection.
Each proxied connection logs one line on stdout.

sidecar-inbound PORT MARK
    The sidecar's inbound listener (Istio TPROXY interception): listen on 0.0.0.0:PORT with
    IP_TRANSPARENT, so the accepted socket's local address is the original destination; dial it
    inside the pod from the client's IP (IP_TRANSPARENT bind, SO_MARK=MARK so the pod's rules
    route the app's replies back here) and relay. The app sees the original client IP.
    Logs "inbound <peer ip:port> -> <orig dst ip:port> #<n>".
sidecar-outbound PORT MARK ROUTES CERT_DIR CA
    The sidecar's outbound listener (REDIRECT interception): the original destination comes from
    SO_ORIGINAL_DST. ROUTES (JSON file) maps "ip:port" to {"hbone": "ip:port", "authority":
    "ip:port", "identity": "spiffe://..."}, the way istiod's EDS tells a sidecar to use HBONE
    (to an ambient pod, or to a waypoint); other destinations are dialled as they are. Upstream
    sockets carry SO_MARK=MARK so the pod's capture rule skips them. Logs
    "outbound <peer> -> <orig dst> hbone <ip:port> authority <a> identity <id> status <n>" or
    "outbound <peer> -> <orig dst> direct".
waypoint PORT CERT_DIR CA ROUTES
    A waypoint: HBONE server on 0.0.0.0:PORT. The CONNECT authority (a service "vip:port") is
    looked up in ROUTES (same schema) and the stream is forwarded over HBONE to the chosen
    endpoint; 503 when the upstream fails, 404 for an unknown authority. Logs
    "waypoint <client id> <authority> -> hbone <ip:port> authority <a> status <n>".

Every listener listens on 0.0.0.0 and, where the namespace has IPv6, on [::] too (IPV6_V6ONLY,
IPV6_TRANSPARENT): the dual-stack e2e (E2E_FAMILY=dual) captures both families. An IPv6
address:port is written [ip]:port in the logs and in ROUTES ("[fd00:10:96::80]:8000"); IPv4
ones as before.
"""
import json
import os
import select
import socket
import struct
import sys
import threading

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ztunnel"))
from hbone_peer import h2conn, peer_uri, tls_context  # noqa: E402

import h2.events  # noqa: E402

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
SO_ORIGINAL_DST = 80  # also IP6T_SO_ORIGINAL_DST at SOL_IPV6
IDLE_LIMIT_S = 120


def say(line):
    print(line, flush=True)


def hostport(ip, port):
    """ip:port, or [ip]:port for IPv6 (RFC 3986)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def split_hostport(text):
    """The inverse of hostport: (ip, port)."""
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def set_transparent(sock):
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    else:
        sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)


class PlainEnd:
    """One side of a relay: a plain TCP socket."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def buffered(self):
        return False

    def receive(self):
        data = self.sock.recv(65536)
        return ([data], False) if data else ([], True)

    def write(self, data):
        self.sock.sendall(data)

    def end(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()


class StreamEnd:
    """One side of a relay: one HTTP/2 stream of an HBONE connection, with flow control."""

    def __init__(self, tls, conn, stream_id, early=()):
        self.tls, self.conn, self.sid = tls, conn, stream_id
        self.early = b"".join(early)  # DATA that arrived with the response headers
        self.out = b""
        self.want_end = False

    def fileno(self):
        return self.tls.fileno()

    def buffered(self):
        return self.tls.pending() > 0

    def receive(self):
        data = self.tls.recv(65536)
        if not data:
            return [], True
        chunks, ended = [], False
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived) and ev.stream_id == self.sid:
                chunks.append(ev.data)
                self.conn.acknowledge_received_data(ev.flow_controlled_length, self.sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == self.sid:
                ended = True
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                ended = True
        self._drain()
        return chunks, ended

    def write(self, data):
        self.out += data
        self._drain()

    def end(self):
        self.want_end = True
        self._drain()

    def _drain(self):
        while self.out:
            n = min(len(self.out), self.conn.local_flow_control_window(self.sid),
                    self.conn.max_outbound_frame_size)
            if n <= 0:
                break
            self.conn.send_data(self.sid, self.out[:n])
            self.out = self.out[n:]
        if self.want_end and not self.out:
            self.conn.end_stream(self.sid)
            self.want_end = False
        pending = self.conn.data_to_send()
        if pending:
            self.tls.sendall(pending)

    def close(self):
        self.tls.close()


def relay(a, b):
    """Copies both ways until both directions ended (half-close kept) or a side fails."""
    reading = {a: True, b: True}
    other = {a: b, b: a}
    try:
        for end in (a, b):
            early = getattr(end, "early", b"")
            if early:
                end.early = b""
                other[end].write(early)
        while any(reading.values()):
            # An HTTP/2 side is watched until the end: window updates arrive after its EOF.
            watch = [e for e in (a, b) if reading[e] or isinstance(e, StreamEnd)]
            ready = [e for e in watch if e.buffered()]
            if not ready:
                ready, _, _ = select.select(watch, [], [], IDLE_LIMIT_S)
                if not ready:
                    return
            for end in ready:
                chunks, eof = end.receive()
                for chunk in chunks:
                    other[end].write(chunk)
                if eof and reading[end]:
                    reading[end] = False
                    other[end].end()
                elif eof:
                    return  # the HTTP/2 connection closed after its stream ended
    except (OSError, ValueError):
        pass
    finally:
        a.close()
        b.close()


def hbone_connect(target, authority, cert_dir, ca, identity, mark=0):
    """Opens an HBONE stream: returns (status, StreamEnd or None, server identity)."""
    host, port = split_hostport(target)
    raw = socket.socket(family_of(host), socket.SOCK_STREAM)
    if mark:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    raw.settimeout(10)
    raw.connect((host, port))
    tls = tls_context(False, cert_dir, ca).wrap_socket(raw)
    got = peer_uri(tls)
    if identity and got != identity:
        tls.close()
        return 0, None, got
    conn = h2conn(True)
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":authority", authority)])
    tls.sendall(conn.data_to_send())
    early, status = [], None
    while status is None:
        data = tls.recv(65536)
        if not data:
            tls.close()
            return 0, None, got
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                status = int(dict(ev.headers).get(":status", "0"))
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                early.append(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                status = 0
        pending = conn.data_to_send()
        if pending:
            tls.sendall(pending)
    if status != 200:
        tls.close()
        return status, None, got
    tls.settimeout(None)
    return 200, StreamEnd(tls, conn, sid, early), got


def listen(port, transparent):
    """Listening sockets on 0.0.0.0:PORT and, when the namespace has IPv6, [::]:PORT."""
    out = []
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        ls = socket.socket(family, socket.SOCK_STREAM)
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if transparent:
                set_transparent(ls)
            ls.bind((addr, int(port)))
            ls.listen(128)
        except OSError:
            ls.close()
            if family == socket.AF_INET:
                raise
            continue  # no IPv6 in this namespace
        out.append(ls)
    say(f"listening {port}" + (" (IPv4 and IPv6)" if len(out) > 1 else ""))
    return out


def serve(listeners, handler, *args):
    count = [0]
    lock = threading.Lock()

    def loop(ls):
        while True:
            conn, peer = ls.accept()
            with lock:
                count[0] += 1
                n = count[0]
            threading.Thread(target=handler, args=(conn, peer, n) + args, daemon=True).start()

    for ls in listeners[1:]:
        threading.Thread(target=loop, args=(ls,), daemon=True).start()
    loop(listeners[0])


def sidecar_inbound(port, mark):
    def handle(conn, peer, count, mark):
        orig = conn.getsockname()[:2]
        say(f"inbound {hostport(*peer[:2])} -> {hostport(*orig)} #{count}")
        up = socket.socket(conn.family, socket.SOCK_STREAM)
        try:
            set_transparent(up)
            up.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
            up.bind((peer[0], 0))
            up.settimeout(10)
            up.connect(orig)
            up.settimeout(None)
        except OSError as e:
            say(f"upstream {hostport(*orig)} failed: {e}")
            conn.close()
            up.close()
            return
        relay(PlainEnd(conn), PlainEnd(up))

    serve(listen(port, True), handle, int(mark, 0))


def load_routes(path):
    with open(path) as f:
        return json.load(f)


def sidecar_outbound(port, mark, routes_path, cert_dir, ca):
    routes, mark = load_routes(routes_path), int(mark, 0)

    def handle(conn, peer, count):
        if conn.family == socket.AF_INET6:  # struct sockaddr_in6
            raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
            dport = struct.unpack_from("!H", raw, 2)[0]
            dip = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        else:
            raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            dport, dip = struct.unpack_from("!H", raw, 2)[0], socket.inet_ntoa(raw[4:8])
        dest = hostport(dip, dport)
        route = routes.get(dest)
        head = f"outbound {hostport(*peer[:2])} -> {dest}"
        try:
            if route is None:
                up = socket.socket(conn.family, socket.SOCK_STREAM)
                up.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
                up.settimeout(10)
                up.connect((dip, dport))
                up.settimeout(None)
                say(f"{head} direct")
                relay(PlainEnd(conn), PlainEnd(up))
                return
            status, stream, got = hbone_connect(route["hbone"], route["authority"], cert_dir, ca,
                                                route["identity"], mark)
            say(f"{head} hbone {route['hbone']} authority {route['authority']} "
                f"identity {got} status {status}")
            if stream is None:
                conn.close()
                return
            relay(PlainEnd(conn), stream)
        except (OSError, KeyError, ValueError) as e:
            say(f"{head} failed: {e}")
            conn.close()

    serve(listen(port, False), handle)


def waypoint(port, cert_dir, ca, routes_path):
    routes, ctx = load_routes(routes_path), tls_context(True, cert_dir, ca)

    def handle(raw, peer, count):
        tls = None
        try:
            raw.settimeout(10)
            tls = ctx.wrap_socket(raw, server_side=True)
            who = peer_uri(tls)
            conn = h2conn(False)
            conn.initiate_connection()
            tls.sendall(conn.data_to_send())
            sid, authority = None, None
            while sid is None:
                data = tls.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        sid, authority = ev.stream_id, dict(ev.headers).get(":authority", "")
                tls.sendall(conn.data_to_send())
            route = routes.get(authority)
            status, upstream = 404, None
            if route is not None:
                try:
                    status, upstream, _ = hbone_connect(route["hbone"], route["authority"],
                                                        cert_dir, ca, route["identity"])
                    status = 200 if upstream else 503
                except OSError:
                    status = 503
            target = f"hbone {route['hbone']} authority {route['authority']}" if route else "none"
            say(f"waypoint {who} {authority} -> {target} status {status}")
            conn.send_headers(sid, [(":status", str(status))], end_stream=status != 200)
            tls.sendall(conn.data_to_send())
            if upstream is None:
                tls.close()
                return
            tls.settimeout(None)
            relay(StreamEnd(tls, conn, sid), upstream)
        except (OSError, ValueError) as e:
            say(f"waypoint connection #{count} from {peer[0]} failed: {e}")
            (tls or raw).close()

    serve(listen(port, False), handle)


def main():
    modes = {"sidecar-inbound": (sidecar_inbound, 2), "sidecar-outbound": (sidecar_outbound, 5),
             "waypoint": (waypoint, 4)}
    if len(sys.argv) < 2 or sys.argv[1] not in modes or len(sys.argv) - 2 != modes[sys.argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = modes[sys.argv[1]]
    fn(*sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
