#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441 extended CONNECT) for the
mod_upgrade_required suite, on python3-h2.

    h2_ws_client.py h2|h2c HOST PORT PATH MESSAGE...

h2 speaks TLS with ALPN h2 (certificates not verified), h2c cleartext
HTTP/2 with prior knowledge.  Waits for the server's SETTINGS, exits with 4
if they lack SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 section 3).  Sends
CONNECT with :protocol websocket; on a 200 sends each MESSAGE as a masked
text frame and prints each answer on a line of its own; otherwise prints
"HTTP <status>" and the response's fields, one "name: value" a line, and
exits with 3.
"""
import os
import socket
import ssl
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


class Stream:
    def __init__(self, mode, host, port):
        sock = socket.create_connection((host, port), timeout=10)
        if mode == "h2":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=host)
            if sock.selected_alpn_protocol() != "h2":
                sys.exit("no h2 in ALPN: %r" % sock.selected_alpn_protocol())
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True,
                                             header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def events(self):
        data = self.sock.recv(65536)
        if not data:
            sys.exit("connection closed by the server")
        events = self.conn.receive_data(data)
        self.flush()
        return events


def ws_frame(text):
    """A masked, final text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_parse(buf):
    """(payload, rest) of the first complete unmasked frame, or None."""
    if len(buf) < 2:
        return None
    n, off = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = struct.unpack("!H", buf[2:4])[0], 4
    if len(buf) < off + n:
        return None
    return buf[off:off + n], buf[off + n:]


def main(mode, host, port, path, messages):
    s = Stream(mode, host, int(port))
    settings = None
    while settings is None:
        for ev in s.events():
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                settings = {k: v.new_value for k, v in
                            ev.changed_settings.items()}
    if settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) != 1:
        print("no SETTINGS_ENABLE_CONNECT_PROTOCOL")
        return 4

    sid = s.conn.get_next_available_stream_id()
    s.conn.send_headers(sid, [
        (":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", "https" if mode == "h2" else "http"),
        (":path", path), (":authority", "%s:%s" % (host, port)),
        ("sec-websocket-version", "13"),
    ])
    s.flush()

    status, fields, body, buf = None, [], b"", b""
    answers = []
    pending = list(messages)
    done = False
    while not done:
        for ev in s.events():
            if isinstance(ev, h2.events.ResponseReceived):
                fields = ev.headers
                status = dict(fields)[":status"]
                if status == "200":
                    for msg in pending:
                        s.conn.send_data(sid, ws_frame(msg))
                    s.flush()
                    if not pending:
                        done = True
            elif isinstance(ev, h2.events.DataReceived):
                s.conn.acknowledge_received_data(
                    ev.flow_controlled_length, sid)
                s.flush()
                if status != "200":
                    body += ev.data
                    continue
                buf += ev.data
                while True:
                    frame = ws_parse(buf)
                    if frame is None:
                        break
                    payload, buf = frame
                    answers.append(payload.decode())
                if len(answers) >= len(pending):
                    done = True
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset,
                                 h2.events.ConnectionTerminated)):
                done = True
    if status != "200":
        print("HTTP %s" % status)
        for name, value in fields:
            if not name.startswith(":"):
                print("%s: %s" % (name, value))
        return 3
    for a in answers:
        print(a)
    s.conn.close_connection()
    s.flush()
    s.sock.close()
    return 0 if len(answers) == len(pending) else 5


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in ("h2", "h2c"):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:5], sys.argv[5:]))
