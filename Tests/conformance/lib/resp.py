"""A minimal raw RESP2/RESP3 client for byte-for-byte differential tests.

Replies are returned as `Reply(raw, value)`: `raw` is the exact bytes the server sent for that
reply (what the differential tests compare), `value` a parsed form used only where order must be
ignored (KEYS, HKEYS, HGETALL, SCAN ...). Parsed forms: bytes for strings, int, float-as-bytes,
None, Err(bytes) for errors, list for arrays/sets/pushes, ("map", [(k, v), ...]) for maps.
"""
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Err:
    message: bytes


@dataclass(frozen=True)
class Reply:
    raw: bytes
    value: object


def encode(*args) -> bytes:
    """Encodes one command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class ConnectionClosed(Exception):
    pass


class RespConn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- sending
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def call(self, *args) -> Reply:
        self.sock.sendall(encode(*args))
        return self.read_reply()

    def pipeline(self, commands) -> list:
        """Sends all commands in one write, then reads one reply per command."""
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    # --- reading
    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionClosed("server closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise AssertionError("bulk payload not followed by CRLF")
        self.pos += n + 2
        return data

    def read_reply(self) -> Reply:
        # Drop what earlier replies consumed, so this reply's bytes start at offset 0.
        self.buf = self.buf[self.pos:]
        self.pos = 0
        value = self._parse()
        return Reply(self.buf[:self.pos], value)

    def is_closed_by_server(self, timeout=2.0) -> bool:
        """True if the server closes the connection (EOF or reset) within `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def _parse(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return Err(rest)
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            return Err(data) if kind == b"!" else data
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            return [self._parse() for _ in range(n)]
        if kind == b"%":
            n = int(rest)
            return ("map", [(self._parse(), self._parse()) for _ in range(n)])
        if kind == b"|":  # attribute: parse and drop, then the real reply follows
            n = int(rest)
            for _ in range(2 * n):
                self._parse()
            return self._parse()
        if kind == b"_":
            return None
        if kind in (b",", b"("):
            return rest
        if kind == b"#":
            return rest == b"t"
        raise AssertionError("unknown RESP type byte %r in line %r" % (kind, line))
