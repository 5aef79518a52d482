#!/usr/bin/python3
"""Misbehaving HTTP/2 peer (raw frames over mTLS, hpack from Debian's python3-hpack) for the
bad-input rows of issue 18. Prints JSON: the frames the server ended with and whether it closed.

h2_abuse.py HOST PORT CERT_DIR CA_FILE CASE AUTHORITY [N]
  beyond-stream   CONNECT, then N bytes of DATA without waiting for credit (N > stream window)
  beyond-conn     two CONNECTs, N bytes of DATA on each (each within the stream window, the sum
                  beyond the connection window)
  wu-flood        N WINDOW_UPDATE(+1) frames on stream 0, then a PING (must be answered), then an
                  increment that overflows the window
  wu-zero         WINDOW_UPDATE with increment 0 on stream 0
  idle-streams    N CONNECTs that never send a byte
  no-read         open all windows, CONNECT, ask the upstream for N bytes, never read for
                  NO_READ_SECONDS (3), then read to see whether the server closed
"""
import json, os, socket, ssl, struct, sys, time

import hpack

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 3: "FLOW_CONTROL_ERROR", 7: "REFUSED_STREAM",
         8: "CANCEL", 11: "ENHANCE_YOUR_CALM"}


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


class Peer:
    def __init__(self, host, port, cert_dir, ca):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["h2"])
        ctx.load_verify_locations(ca)
        ctx.check_hostname = False
        ctx.load_cert_chain(os.path.join(cert_dir, "cert-chain.pem"), os.path.join(cert_dir, "key.pem"))
        self.s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
        self.enc, self.buf, self.seen, self.closed = hpack.Encoder(), b"", [], False
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))

    def connect(self, sid, authority):
        block = self.enc.encode([(":method", "CONNECT"), (":authority", authority)])
        self.s.sendall(frame(HEADERS, 0x4, sid, block))

    def read(self, seconds):
        """Read frames for `seconds` (ACKing SETTINGS); stop at EOF."""
        end = time.monotonic() + seconds
        while not self.closed and time.monotonic() < end:
            self.s.settimeout(max(0.01, end - time.monotonic()))
            try:
                d = self.s.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except (OSError, ssl.SSLError) as e:
                self.seen.append(f"error {type(e).__name__}")
                self.closed = True
                break
            if not d:
                self.closed = True
                break
            self.buf += d
            while len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + n:
                    break
                t, fl, sid = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
                p = self.buf[9:9 + n]
                self.buf = self.buf[9 + n:]
                if t == SETTINGS and not fl & 1:
                    self.s.sendall(frame(SETTINGS, 1, 0))
                elif t == GOAWAY:
                    self.seen.append("GOAWAY " + CODES.get(int.from_bytes(p[4:8], "big"), "?"))
                elif t == RST_STREAM:
                    self.seen.append(f"RST_STREAM {sid} " + CODES.get(int.from_bytes(p[:4], "big"), "?"))
                elif t == PING and fl & 1:
                    self.seen.append("PING_ACK")
                elif t == HEADERS:
                    self.seen.append(f"HEADERS {sid}")

    def send(self, b):
        try:
            self.s.sendall(b)
        except (OSError, ssl.SSLError) as e:  # the server closed on us: read what it said
            self.seen.append(f"send {type(e).__name__}")

    def data(self, sid, nbytes):
        chunk = b"\0" * 16384
        while nbytes > 0:
            n = min(nbytes, len(chunk))
            self.send(frame(DATA, 0, sid, chunk[:n]))
            nbytes -= n


def main(host, port, cert_dir, ca, case, authority, n="0"):
    n = int(n)
    p = Peer(host, port, cert_dir, ca)
    p.read(0.3)
    if case == "beyond-stream":
        p.connect(1, authority)
        p.data(1, n)
        p.read(2)
    elif case == "beyond-conn":
        p.connect(1, authority)
        p.connect(3, authority)
        p.data(1, n)
        p.data(3, n)
        p.read(2)
    elif case == "wu-flood":
        p.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)) * n)
        p.send(frame(PING, 0, 0, b"12345678"))
        p.read(1)
        p.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)))
        p.read(2)
    elif case == "wu-zero":
        p.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
        p.read(2)
    elif case == "idle-streams":
        for i in range(n):
            p.connect(1 + 2 * i, authority)
        p.read(2)
    elif case == "no-read":
        # Open every window wide, so that only the TCP socket can hold the server back.
        p.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x7fffffff)))
        p.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff - 65535)))
        p.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        p.connect(1, authority)
        p.send(frame(DATA, 0, 1, f"DOWN {n}\n".encode()))
        time.sleep(float(os.environ.get("NO_READ_SECONDS", "3")))
        try:  # did the server give up on us? (EOF or reset once the unread bytes are drained)
            p.s.settimeout(5)
            while p.s.recv(1 << 20):
                pass
            p.seen.append("closed by server")
        except (socket.timeout, TimeoutError):
            p.seen.append("still open")
        except (OSError, ssl.SSLError) as e:
            p.seen.append(f"closed by server ({type(e).__name__})")
    print(json.dumps({"seen": p.seen, "closed": p.closed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
