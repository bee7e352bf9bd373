#!/usr/bin/env python3
"""WebSocket echo backend for the mod_upgrade_required suite.

    ws_echo_server.py PORT

Listens on 127.0.0.1:PORT, prints "ready PORT" on stdout once it accepts
connections, and echoes every message back.  The message "?path" is
answered with the request path the backend saw, "?headers" with the
handshake's Upgrade, Connection and Sec-WebSocket-Version as httpd forwarded
them.  Runs until killed.
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    # websockets 10 passes the path as an argument; later versions keep it
    # in ws.path / ws.request.path
    path = path or getattr(ws, "path", None) or ws.request.path
    headers = getattr(ws, "request_headers", None) or ws.request.headers
    async for msg in ws:
        if msg == "?path":
            await ws.send(path)
        elif msg == "?headers":
            await ws.send("|".join("%s: %s" % (n, headers.get(n, "-"))
                                   for n in ("Upgrade", "Connection",
                                             "Sec-WebSocket-Version")))
        else:
            await ws.send(msg)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port):
        print("ready %d" % port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
