"""/websocket: the RFC 6455 handshake Odoo 18's bus module answers, and a
small frame loop.

Handshake checks (as in Odoo's bus/websocket.py): Upgrade must be
"websocket", Connection must contain "upgrade", Sec-WebSocket-Key must be 16
bytes of base64 (else 400), Sec-WebSocket-Version must be 13 (else 426 with
Sec-WebSocket-Version: 13). The answer is 101 with Sec-WebSocket-Accept.

After the upgrade the stand-in does not run Odoo's bus. It answers pings,
replies to a close with the same code, closes with 1003 on binary data, 1007
on text that is not UTF-8 and 1009 above 1 MiB, ignores Odoo's `subscribe`
and `update_presence` events, and echoes anything else back in the shape of
a bus notification: [{"id": n, "message": {"type": "standin.echo", "payload": ...}}].
"""

import base64
import hashlib
import json
import logging
import socket
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MESSAGE_MAX_SIZE = 2**20
SUPPORTED_VERSIONS = {"13"}

OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x8, 0x9, 0xA

CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_UNSUPPORTED = 1000, 1001, 1003
CLOSE_INVALID_DATA, CLOSE_TOO_BIG = 1007, 1009

_logger = logging.getLogger("odoo.addons.bus.websocket")

open_websockets = set()
_open_lock = threading.Lock()


class HandshakeError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def check_handshake(headers):
    """The Sec-WebSocket-Accept value, or HandshakeError."""
    upgrade = headers.get("Upgrade")
    if not upgrade or upgrade.lower() != "websocket":
        raise HandshakeError(400, f"Invalid upgrade header: {upgrade}")
    connection = headers.get("Connection")
    if not connection or "upgrade" not in connection.lower():
        raise HandshakeError(400, f"Invalid connection header: {connection}")
    key = headers.get("Sec-WebSocket-Key") or ""
    try:
        decoded = base64.b64decode(key, validate=True)
    except ValueError:
        raise HandshakeError(400, "Sec-WebSocket-Key should be b64 encoded") from None
    if len(decoded) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key should be of length 16 once decoded")
    if headers.get("Sec-WebSocket-Version") not in SUPPORTED_VERSIONS:
        raise HandshakeError(426, "Upgrade Required", [("Sec-WebSocket-Version", "13")])
    return accept_key(key)


class ConnectionClosed(Exception):
    pass


class Websocket:
    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(None)
        self.write_lock = threading.Lock()
        self.notification_id = 0
        self.closed = False

    def _read_exactly(self, size):
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise ConnectionClosed()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def read_frame(self):
        first, second = self._read_exactly(2)
        fin, opcode = bool(first & 0x80), first & 0x0F
        masked, length = bool(second & 0x80), second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        if length > MESSAGE_MAX_SIZE:
            self.close(CLOSE_TOO_BIG)
            raise ConnectionClosed()
        mask = self._read_exactly(4) if masked else b"\0\0\0\0"
        payload = bytearray(self._read_exactly(length))
        for i in range(length):
            payload[i] ^= mask[i % 4]
        return fin, opcode, bytes(payload)

    def write_frame(self, opcode, payload=b""):
        header = bytearray([0x80 | opcode])
        if len(payload) < 126:
            header.append(len(payload))
        elif len(payload) < 2**16:
            header.append(126)
            header += struct.pack("!H", len(payload))
        else:
            header.append(127)
            header += struct.pack("!Q", len(payload))
        with self.write_lock:
            self.sock.sendall(bytes(header) + payload)

    def close(self, code=CLOSE_NORMAL, reason=""):
        if self.closed:
            return
        self.closed = True
        try:
            self.write_frame(OPCODE_CLOSE, struct.pack("!H", code) + reason.encode())
        except OSError:
            pass

    def serve(self):
        with _open_lock:
            open_websockets.add(self)
        try:
            self._loop()
        except (ConnectionClosed, OSError):
            pass
        finally:
            with _open_lock:
                open_websockets.discard(self)
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _loop(self):
        message, message_opcode = b"", None
        while not self.closed:
            fin, opcode, payload = self.read_frame()
            if opcode == OPCODE_PING:
                self.write_frame(OPCODE_PONG, payload)
                continue
            if opcode == OPCODE_PONG:
                continue
            if opcode == OPCODE_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CLOSE_NORMAL
                self.close(code)
                return
            if opcode in (OPCODE_TEXT, OPCODE_BINARY):
                message, message_opcode = payload, opcode
            elif opcode == OPCODE_CONTINUATION:
                message += payload
            if len(message) > MESSAGE_MAX_SIZE:
                self.close(CLOSE_TOO_BIG)
                return
            if fin:
                self._on_message(message_opcode, message)
                message, message_opcode = b"", None

    def _on_message(self, opcode, data):
        if opcode == OPCODE_BINARY:
            self.close(CLOSE_UNSUPPORTED)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.close(CLOSE_INVALID_DATA)
            return
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
        if isinstance(payload, dict) and payload.get("event_name") in ("subscribe", "update_presence"):
            return
        self.notification_id += 1
        notification = [{"id": self.notification_id, "message": {"type": "standin.echo", "payload": payload}}]
        self.write_frame(OPCODE_TEXT, json.dumps(notification).encode())


def close_all(code=CLOSE_GOING_AWAY):
    with _open_lock:
        sockets = list(open_websockets)
    for websocket in sockets:
        websocket.close(code)
        try:
            websocket.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
