#!/usr/bin/env python3
"""Generates Sources/LarderServer/Commands/RedisCommandDocs.swift: Redis' own documentation
(summary, since, complexity, ACL categories, tips, key specs, argument tree) of the commands and
subcommands that Larder implements, and of no others.

Input and provenance: a live redis-server (Debian's 7.0.15 here; `--redis` to name another
binary) answering COMMAND INFO and COMMAND DOCS (Redis' command table, BSD licensed), and a
built larder (`--larder`, default .build/release/larder) answering COMMAND LIST, which is read
from Larder's family tables: so an entry exists exactly for each implemented command that Redis
documents. Commands Redis 7.0 does not document (Larder's own, or newer ones such as HEXPIRE)
carry their summary and since in their family table instead; `CommandDocsTests` checks that
every command is documented in exactly one of the two places.

Run after adding or removing a command:  python3 scripts/gen-command-docs.py
Check that the committed file is current:  python3 scripts/gen-command-docs.py --check
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Sources/LarderServer/Commands/RedisCommandDocs.swift")

# Bytes escaped as %XX in the argument and key-spec notation (CommandArgument.parse reads it).
SPECIAL = set(b"=: ()#?*&@!%|")


def escape(text):
    out = []
    for b in text.encode():
        if b in SPECIAL or b < 0x21 or b > 0x7E:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """A minimal RESP2 client: enough for COMMAND replies."""

    def __init__(self, port):
        for _ in range(100):
            try:
                self.sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"nothing listens on port {port}")
        self.buf = b""

    def call(self, *args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(req)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise SystemExit("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self.line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode()
        if t == b"-":
            raise SystemExit("server error: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise SystemExit(f"unexpected reply type {t!r}")


def pairs(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def key_spec_text(spec):
    s = pairs(spec)
    flags = ",".join(s["flags"])

    def part(p):
        p = pairs(p)
        if p["type"] == "unknown":
            return "unknown"
        values = pairs(p["spec"])
        return p["type"] + ":" + ",".join(str(v) for v in values.values())

    text = f"{flags} {part(s['begin_search'])} {part(s['find_keys'])}"
    if "notes" in s:
        text += " " + escape(s["notes"])
    return text


def argument_text(arg):
    a = pairs(arg)
    t = ""
    if a.get("token") is not None:
        t += escape(a["token"]) + "="
    t += escape(a["name"]) + ":" + a["type"]
    if "key_spec_index" in a:
        t += "#%d" % a["key_spec_index"]
    if a["type"] in ("oneof", "block"):
        t += "(" + " ".join(argument_text(c) for c in a.get("arguments", [])) + ")"
    flags = a.get("flags", [])
    if "optional" in flags:
        t += "?"
    if "multiple" in flags:
        t += "*"
    if "multiple_token" in flags:
        t += "&"
    if "since" in a:
        t += "@" + a["since"]
    if "deprecated_since" in a:
        t += "!" + a["deprecated_since"]
    return t


def swift_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def collect(redis, names):
    """name -> fields, for every name in `names` that Redis documents."""
    entries = {}
    info = {}
    for e in redis.call("COMMAND", "INFO"):
        info[e[0]] = e
        for sub in e[9]:
            info[sub[0]] = sub
    docs = {}
    top = pairs(redis.call("COMMAND", "DOCS"))
    for name, d in top.items():
        d = pairs(d)
        docs[name] = d
        for sub_name, sd in pairs(d.get("subcommands", [])).items():
            docs[sub_name] = pairs(sd)
    for name in names:
        if name not in info or name not in docs:
            continue
        i, d = info[name], docs[name]
        entries[name] = {
            "summary": d["summary"],
            "since": d["since"],
            "complexity": d.get("complexity", ""),
            "acl": " ".join(i[6]),
            "tips": " ".join(i[7]),
            "keySpecs": " | ".join(key_spec_text(s) for s in i[8]),
            "arguments": " ".join(argument_text(a) for a in d.get("arguments", [])),
        }
    return entries


def render(entries, redis_version):
    lines = [
        "// GENERATED by scripts/gen-command-docs.py from redis-server %s's COMMAND INFO and" % redis_version,
        "// COMMAND DOCS (Redis' command table, BSD licensed), for the commands Larder implements.",
        "// Do not edit: change the generator or the family tables and run it again.",
        "",
        "extension RedisCommandDocs {",
        "    static let byName: [String: RedisCommandDoc] = [",
    ]
    for name in sorted(entries):
        e = entries[name]
        lines.append("        %s: RedisCommandDoc(summary: %s, since: %s," % (
            swift_string(name), swift_string(e["summary"]), swift_string(e["since"])))
        lines.append("            complexity: %s," % swift_string(e["complexity"]))
        lines.append("            acl: %s, tips: %s, keySpecs: %s," % (
            swift_string(e["acl"]), swift_string(e["tips"]), swift_string(e["keySpecs"])))
        lines.append("            arguments: %s)," % swift_string(e["arguments"]))
    lines += ["    ]", "}", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--larder", default=os.path.join(ROOT, ".build/release/larder"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    opts = ap.parse_args()

    procs = []
    try:
        rport, lport = free_port(), free_port()
        tmp = tempfile.mkdtemp(prefix="gen-command-docs.")
        procs.append(subprocess.Popen([opts.redis, "--port", str(rport), "--save", "", "--appendonly", "no",
                                       "--dir", tmp], stdout=subprocess.DEVNULL))
        procs.append(subprocess.Popen([opts.larder, "serve", "--port", str(lport), "--threads", "1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        redis, larder = Client(rport), Client(lport)
        server_info = redis.call("INFO", "server").split("\r\n")
        version = next(l.split(":", 1)[1] for l in server_info if l.startswith("redis_version:"))
        names = larder.call("COMMAND", "LIST")
        text = render(collect(redis, names), version)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    if opts.check:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            print(f"{OUT} is out of date: run scripts/gen-command-docs.py", file=sys.stderr)
            return 1
        print("RedisCommandDocs.swift is current")
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT}: {text.count('RedisCommandDoc(')} commands documented by redis-server {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
