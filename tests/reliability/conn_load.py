#!/usr/bin/env python3
"""Connection load for the reliability suite (stdlib only, asyncio).

serve PORT                       echo server: every byte received is sent back.
hold HOST PORT N SECONDS         open N connections (at most 256 connecting at once), check each
                                 echoes, keep all open SECONDS, check each still echoes, close;
                                 print JSON {opened, echoed, held, errors, first_error}.
churn HOST PORT SECONDS CONC     CONC loops of connect, send 16 bytes, read them back, close,
                                 for SECONDS; print JSON {conns, errors, first_error}.
"""
import asyncio, json, resource, sys, time


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


if __name__ == "__main__":
    raise_nofile()
    cmd, args = sys.argv[1], sys.argv[2:]
    asyncio.run({"serve": serve, "hold": hold, "churn": churn}[cmd](*args))
