#!/usr/bin/env python3
"""WebSocket client (RFC 6455) for the mod_upgrade_required suite.

    ws_client.py URL MESSAGE...

Opens URL (ws:// or wss://; certificates are not verified), sends each
MESSAGE and prints each answer on a line of its own.  When the server
refuses the handshake it prints "HTTP <status>" and the Upgrade and
Sec-WebSocket-Version fields of the refusal, and exits with 3.
"""
import asyncio
import ssl
import sys

import websockets
from websockets.exceptions import InvalidStatusCode


async def run(url, messages):
    ctx = None
    if url.startswith("wss:"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        async with websockets.connect(url, ssl=ctx, open_timeout=10,
                                      compression=None) as ws:
            for msg in messages:
                await ws.send(msg)
                print(await asyncio.wait_for(ws.recv(), 10), flush=True)
    except InvalidStatusCode as e:
        headers = getattr(e, "headers", None) or {}
        print("HTTP %d" % e.status_code)
        for name in ("Upgrade", "Sec-WebSocket-Version"):
            print("%s: %s" % (name, headers.get(name, "-")))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run(sys.argv[1], sys.argv[2:])))
