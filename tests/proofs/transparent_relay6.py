#!/usr/bin/python3
"""A dual-stack transparent TCP relay standing where ztunnel listens, for the IPv6 packet proof.

transparent_relay6.py PORT [PORT...]
    For each PORT listens on 127.0.0.1:PORT (IP_TRANSPARENT) and [::1]:PORT (IPV6_TRANSPARENT,
    IPv6 only): the namespace's TPROXY rules send captured connections of each family there, so
    an accepted socket's local address is the original destination. Each connection is dialled
    onward to that destination from the client's own address (transparent bind, ephemeral
    port), as ztunnel does with original-source on. The client receives one line:
        zt:<PORT> <client ip> <orig dst> <the upstream's first line>
    or, when the onward connection fails,
        zt:<PORT> <client ip> <orig dst> error <reason>
    so a client sees that it was captured, at which port, for which destination, which source
    ztunnel saw, and what the destination saw. Addresses with a port are written [v6]:port or
    v4:port. Prints "listening" when ready and one line per connection.
"""
import select
import socket
import sys
import threading

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
ONWARD_TIMEOUT = 1.5  # shorter than the proof's client timeout, so the client sees the error


def endpoint(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


def relay(port, family, client):
    peer = client.getpeername()
    dst = client.getsockname()
    head = "zt:%d %s %s " % (port, peer[0], endpoint(dst))
    try:
        up = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET6:
            up.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        else:
            up.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        up.bind((peer[0], 0))
        up.settimeout(ONWARD_TIMEOUT)
        up.connect(dst[:2])
        line = up.recv(512).decode(errors="replace").strip()
        up.close()
        answer = head + line
    except socket.timeout:
        answer = head + "error timeout"
    except OSError as e:
        answer = head + "error " + (e.strerror or str(e))
    try:
        client.sendall((answer + "\n").encode())
    except OSError:
        pass
    client.close()
    print(answer, flush=True)


def main():
    listeners = {}
    for text in sys.argv[1:]:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
            else:
                s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            s.bind((host, int(text)))
            s.listen(64)
            listeners[s] = (int(text), family)
    if not listeners:
        print("usage: transparent_relay6.py PORT [PORT...]", file=sys.stderr)
        return 2
    print("listening", flush=True)
    while True:
        ready, _, _ = select.select(list(listeners), [], [])
        for s in ready:
            client, _ = s.accept()
            port, family = listeners[s]
            threading.Thread(target=relay, args=(port, family, client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
