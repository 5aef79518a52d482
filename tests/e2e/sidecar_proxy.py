#!/usr/bin/env python3
"""A stand-in for an Istio sidecar's inbound listener (stdlib only), for the end-to-end tests.

inbound PORT MARK
    Listen on 0.0.0.0:PORT with IP_TRANSPARENT (the pod's nft TPROXY rule sends captured inbound
    TCP here, so the accepted socket's local address is the original destination). For each
    connection log one line "inbound <peer ip:port> -> <orig dst ip:port> #<n>" on stdout, then
    dial the original destination inside the pod from the peer's IP (IP_TRANSPARENT bind, port
    0, SO_MARK=MARK so the pod's rules route the app's replies back to this socket), as Istio's
    TPROXY interception mode does, and relay bytes both ways with half-close. The app therefore
    sees the original client IP.
"""
import socket
import sys
import threading

IP_TRANSPARENT = 19


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def handle(conn, peer, mark, count):
    orig = conn.getsockname()
    print(f"inbound {peer[0]}:{peer[1]} -> {orig[0]}:{orig[1]} #{count}", flush=True)
    up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        up.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        up.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        up.bind((peer[0], 0))
        up.settimeout(10)
        up.connect(orig)
        up.settimeout(None)
    except OSError as e:
        print(f"upstream {orig[0]}:{orig[1]} failed: {e}", flush=True)
        conn.close()
        up.close()
        return
    t = threading.Thread(target=relay, args=(up, conn), daemon=True)
    t.start()
    relay(conn, up)
    t.join()
    conn.close()
    up.close()


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "inbound":
        print(__doc__, file=sys.stderr)
        return 2
    port, mark = int(sys.argv[2]), int(sys.argv[3], 0)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(128)
    print(f"listening {port}", flush=True)
    count = 0
    while True:
        conn, peer = ls.accept()
        count += 1
        threading.Thread(target=handle, args=(conn, peer, mark, count), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
