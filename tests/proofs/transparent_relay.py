#!/usr/bin/python3
"""A transparent TCP relay standing where ztunnel listens, for the packet proofs.

transparent_relay.py PORT [PORT...]
    Listens on 127.0.0.1:PORT with IP_TRANSPARENT (the namespace's TPROXY rules send captured
    connections there), so an accepted socket's local address is the original destination. Each
    connection is dialled onward to that destination from the client's own IP (IP_TRANSPARENT
    bind, ephemeral port), as ztunnel does with original-source on. The first line the upstream
    sends is returned to the client prefixed with "zt:<PORT> <orig dst ip:port> ", so a client
    sees that it was captured, at which port and for which destination, and what the
    destination saw. Prints "listening" when ready and
    one line per connection: "<PORT> <client ip:port> -> <orig dst ip:port> <ok|error>".
"""
import select
import socket
import sys
import threading

IP_TRANSPARENT = 19


def relay(port, client):
    peer = client.getpeername()
    dst = client.getsockname()
    outcome = "ok"
    try:
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        up.bind((peer[0], 0))
        up.settimeout(3)
        up.connect(dst)
        line = up.recv(512)
        client.sendall(("zt:%d %s:%d " % (port, dst[0], dst[1])).encode() + line)
        up.close()
    except OSError as e:
        outcome = "error " + e.strerror if e.strerror else "error"
    client.close()
    print("%d %s:%d -> %s:%d %s" % (port, peer[0], peer[1], dst[0], dst[1], outcome), flush=True)


def main():
    listeners = {}
    for text in sys.argv[1:]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        s.bind(("127.0.0.1", int(text)))
        s.listen(64)
        listeners[s] = int(text)
    if not listeners:
        print("usage: transparent_relay.py PORT [PORT...]", file=sys.stderr)
        return 2
    print("listening", flush=True)
    while True:
        ready, _, _ = select.select(list(listeners), [], [])
        for s in ready:
            client, _ = s.accept()
            threading.Thread(target=relay, args=(listeners[s], client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
