#!/usr/bin/env python3
"""Test peer for the ztunnel end-to-end tests (stdlib only).

serve PORT NAME            accept forever; greet "<NAME> <peer ip>\\n", echo bytes, and on the
                           client's half-close send "END <n>\\n" and close.
probe HOST PORT [BYTES]    connect, read the greeting, send BYTES random bytes, half-close, read
                           the echo and the END line; print JSON {server, peer, ok, bytes}.
hold HOST PORT N SECONDS   open N connections, keep them idle SECONDS, then check each still echoes.
watch HOST PORT SECONDS    connect, read the greeting, print {"connected": 1}, then send "ping" every
                           0.1 s for SECONDS and read its echo; print JSON {closed, after, pings}
                           (after: seconds from the start until the connection ended).
connects HOST PORT N       N connections one after another: connect, read the greeting, close;
                           print JSON {connections, seconds, us_per_connection}.
rst HOST PORT              connect, read the greeting, then abort with RST.
bulkserve PORT             accept forever; the client's first line says "UP RATE" (read until
                           EOF at most RATE bytes/s, answer "GOT <n>") or "DOWN N" (send N
                           bytes as fast as possible, then close).
bulk HOST PORT up|down BYTES RATE
                           upload BYTES to a reader limited to RATE bytes/s, or download BYTES
                           reading at most RATE bytes/s; print JSON {ok, bytes, seconds}.
"""
import json, os, socket, struct, sys, threading, time


def serve(port, name):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)  # dual-stack
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", int(port)))
    ls.listen(1024)

    def handle(c, peer):
        try:
            ip = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
            c.sendall(f"{name} {ip}\n".encode())
            n = 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                n += len(d)
                c.sendall(d)
            c.sendall(f"END {n}\n".encode())
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, peer = ls.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            break
        buf += d
    return buf.decode().strip()


def probe(host, port, nbytes="1000"):
    nbytes = int(nbytes)
    out = {"ok": False}
    try:
        s = socket.create_connection((host, int(port)), timeout=10)
        hello = read_line(s).split()
        out["server"], out["peer"] = (hello + ["", ""])[:2]
        payload = os.urandom(nbytes)
        got = bytearray()

        def reader():
            while True:
                d = s.recv(262144)
                if not d:
                    break
                got.extend(d)

        t = threading.Thread(target=reader)
        t.start()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join(30)
        tail = f"END {nbytes}\n".encode()
        out["bytes"] = len(got) - len(tail)
        out["ok"] = bytes(got) == payload + tail
    except OSError as e:
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def hold(host, port, n, seconds):
    socks = []
    for _ in range(int(n)):
        s = socket.create_connection((host, int(port)), timeout=10)
        read_line(s)
        socks.append(s)
    print(json.dumps({"connected": len(socks)}), flush=True)  # the caller may act now
    time.sleep(float(seconds))
    ok = 0
    for s in socks:
        s.sendall(b"ping\n")
        if read_line(s) == "ping":
            ok += 1
        s.close()
    print(json.dumps({"held": len(socks), "ok": ok}))
    return 0 if ok == len(socks) else 1


def watch(host, port, seconds):
    s = socket.create_connection((host, int(port)), timeout=10)
    read_line(s)
    print(json.dumps({"connected": 1}), flush=True)  # the caller may act now
    start, pings, closed = time.monotonic(), 0, False
    s.settimeout(2)
    while time.monotonic() - start < float(seconds):
        try:
            s.sendall(b"ping\n")
            if read_line(s) != "ping":
                closed = True
                break
            pings += 1
        except OSError:
            closed = True
            break
        time.sleep(0.1)
    print(json.dumps({"closed": closed, "after": round(time.monotonic() - start, 2),
                      "pings": pings}))
    s.close()
    return 0


def connects(host, port, n):
    start = time.monotonic()
    for _ in range(int(n)):
        s = socket.create_connection((host, int(port)), timeout=10)
        if not read_line(s):
            print(json.dumps({"error": "no greeting"}))
            return 1
        s.close()
    took = time.monotonic() - start
    print(json.dumps({"connections": int(n), "seconds": round(took, 3),
                      "us_per_connection": round(took * 1e6 / int(n), 1)}))
    return 0


def rst(host, port):
    s = socket.create_connection((host, int(port)), timeout=10)
    read_line(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return 0


def read_paced(s, rate, limit=None):
    """recv until EOF (or `limit` bytes), never faster than `rate` bytes/s."""
    n, start = 0, time.monotonic()
    while limit is None or n < limit:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
        ahead = n / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    return n


def bulkserve(port):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", int(port)))
    ls.listen(64)

    def handle(c):
        try:
            cmd = read_line(c).split() or ["-"]  # a port probe sends nothing
            if cmd[0] == "UP":
                c.sendall(f"GOT {read_paced(c, float(cmd[1]))}\n".encode())
            elif cmd[0] == "DOWN":
                chunk, left = b"\x5a" * 262144, int(cmd[1])
                while left > 0:
                    left -= c.send(chunk[:min(left, len(chunk))])
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def bulk(host, port, direction, nbytes, rate):
    nbytes, rate = int(nbytes), float(rate)
    out, start = {"ok": False}, time.monotonic()
    try:
        s = socket.create_connection((host, int(port)), timeout=60)
        if direction == "up":
            s.sendall(f"UP {rate}\n".encode())
            chunk, left = b"\xa5" * 262144, nbytes
            while left > 0:
                left -= s.send(chunk[:min(left, len(chunk))])
            s.shutdown(socket.SHUT_WR)
            reply = read_line(s)
            out["bytes"] = int(reply.split()[1]) if reply.startswith("GOT ") else -1
        else:
            s.sendall(f"DOWN {nbytes}\n".encode())
            out["bytes"] = read_paced(s, rate)
        out["ok"] = out["bytes"] == nbytes
    except OSError as e:
        out["error"] = f"{type(e).__name__}: {e}"
    out["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"serve": serve, "probe": probe, "hold": hold, "watch": watch, "connects": connects, "rst": rst, "bulkserve": bulkserve,
              "bulk": bulk}[cmd](*args) or 0)
