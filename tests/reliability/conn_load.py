#!/usr/bin/env python3
"""Connection load for the reliability suite (stdlib only, asyncio).

serve PORT                       echo server: every byte received is sent back.
hold HOST PORT N SECONDS         open N connections (at most 256 connecting at once), check each
                                 echoes, keep all open SECONDS, check each still echoes, close;
                                 print JSON {opened, echoed, held, errors, first_error}.
churn HOST PORT SECONDS CONC     CONC loops of connect, send 16 bytes, read them back, close,
                                 for SECONDS; print JSON {conns, errors, first_error}.
stall PORT                       accept forever and never read (a stalled reader per connection;
                                 asyncio pauses reading after 2 KiB).
push HOST PORT N BYTES SECONDS   open N connections (256 connecting at once), write BYTES on each
                                 without waiting, hold SECONDS, count those still open; print JSON
                                 {opened, open_at_end, errors, first_error, unsent}.
"""
import asyncio, json, resource, socket, struct, sys, time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def echo(reader, writer):
    try:
        while True:
            d = await reader.read(65536)
            if not d:
                break
            writer.write(d)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def serve(port):
    server = await asyncio.start_server(echo, "0.0.0.0", int(port), backlog=4096)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


async def roundtrip(reader, writer, payload):
    writer.write(payload)
    await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(len(payload)), 30)
    if got != payload:
        raise RuntimeError("echo mismatch: sent %r, got %r" % (payload, got))
    return 1


async def hold(host, port, n, seconds):
    n, seconds = int(n), float(seconds)
    out = {"opened": 0, "echoed": 0, "held": 0, "errors": 0, "first_error": ""}
    conns = []
    gate = asyncio.Semaphore(256)

    def error(e):
        out["errors"] += 1
        out["first_error"] = out["first_error"] or repr(e)

    async def one(i):
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 30)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                error(e)
                return
            out["opened"] += 1
            conns.append((r, w))
            try:
                # Not `out[k] += await ...`: that reads out[k] before the await, and concurrent
                # tasks then overwrite each other's increments.
                ok = await roundtrip(r, w, b"%08d" % i)
                out["echoed"] += ok
            except Exception as e:  # noqa: BLE001
                error(e)

    await asyncio.gather(*(one(i) for i in range(n)))
    print(json.dumps({"phase": "open", **out}), flush=True)
    await asyncio.sleep(seconds)

    async def again(i, r, w):
        try:
            ok = await roundtrip(r, w, b"again%05d" % i)
            out["held"] += ok
        except Exception as e:  # noqa: BLE001
            error(e)

    await asyncio.gather(*(again(i, r, w) for i, (r, w) in enumerate(conns)))
    for _, w in conns:
        w.close()
    print(json.dumps(out), flush=True)


async def churn(host, port, seconds, conc):
    out = {"conns": 0, "errors": 0, "first_error": ""}
    deadline = time.monotonic() + float(seconds)

    async def loop():
        while time.monotonic() < deadline:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
                await roundtrip(r, w, b"0123456789abcdef")
                w.close()
                await w.wait_closed()
                out["conns"] += 1
            except Exception as e:  # noqa: BLE001
                out["errors"] += 1
                out["first_error"] = out["first_error"] or repr(e)

    await asyncio.gather(*(loop() for _ in range(int(conc))))
    print(json.dumps(out), flush=True)


async def stall(port):
    held = []

    async def keep(reader, writer):
        held.append(writer)
        await asyncio.Event().wait()

    server = await asyncio.start_server(keep, "0.0.0.0", int(port), backlog=4096, limit=1024)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


async def push(host, port, n, nbytes, seconds):
    n, payload = int(n), b"\x5a" * int(nbytes)
    out = {"opened": 0, "open_at_end": 0, "errors": 0, "first_error": "", "unsent": 0}
    conns, gate = [], asyncio.Semaphore(256)

    async def one():
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 30)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                out["errors"] += 1
                out["first_error"] = out["first_error"] or repr(e)
                return
            out["opened"] += 1
            w.write(payload)  # buffered by asyncio: the reader never drains it
            conns.append((r, w))

    await asyncio.gather(*(one() for _ in range(n)))
    print(json.dumps({"phase": "open", **out}), flush=True)
    await asyncio.sleep(float(seconds))
    for r, w in conns:
        if not w.transport.is_closing() and not r.at_eof() and r.exception() is None:
            out["open_at_end"] += 1
        out["unsent"] += w.transport.get_write_buffer_size()
    for _, w in conns:  # RST (SO_LINGER 0): a FIN would queue behind the bytes nobody reads
        w.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    raise_nofile()
    cmd, args = sys.argv[1], sys.argv[2:]
    asyncio.run({"serve": serve, "hold": hold, "churn": churn, "stall": stall,
                 "push": push}[cmd](*args))
