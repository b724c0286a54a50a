"""Resident memory per idle client, plaintext vs TLS, larder and redis-server: opens N
connections that each send one PING (so the handshake and the first request are done), waits,
and reads the server's VmRSS before and after. Prints one markdown table.

usage: python3 bench/tls/idle_memory.py [N]   (default 1000; needs the release build, openssl)
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LARDER = ROOT / ".build/release/larder"
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def certs(d):
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=ca", "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "s.key", "-out", "s.csr")
    Path(d, "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "s.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "s.crt")


def measure(pid, port, ctx):
    conns = []
    time.sleep(0.3)
    before = rss_kb(pid)
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        if ctx:
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert s.recv(16) == b"+PONG\r\n"
        conns.append(s)
    time.sleep(0.5)
    after = rss_kb(pid)
    for s in conns:
        s.close()
    return (after - before) / N


def main():
    d = tempfile.mkdtemp()
    try:
        certs(d)
        ctx = ssl.create_default_context(cafile=f"{d}/ca.crt")
        tls = ["--tls-cert-file", f"{d}/s.crt", "--tls-key-file", f"{d}/s.key", "--tls-ca-cert-file", f"{d}/ca.crt",
               "--tls-auth-clients", "no"]
        rows = []
        for name, argv in (("redis-server", ["redis-server", "--save", "", "--appendonly", "no", "--maxclients", "20000"]),
                           ("larder", [str(LARDER), "serve", "--threads", "1", "--no-pin", "--maxclients", "20000"])):
            port, tport = free_port(), free_port()
            p = subprocess.Popen(argv + ["--port", str(port), "--tls-port", str(tport)] + tls, cwd=d,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(100):
                    try:
                        socket.create_connection(("127.0.0.1", port)).close()
                        break
                    except OSError:
                        time.sleep(0.1)
                plain = measure(p.pid, port, None)
                secure = measure(p.pid, tport, ctx)
                rows.append((name, plain, secure))
            finally:
                p.kill()
                p.wait()
        print(f"Resident memory per idle client ({N} clients, each after one PING), KB:\n")
        print("| server | plaintext | TLS | TLS extra |")
        print("|---|---|---|---|")
        for name, plain, secure in rows:
            print(f"| {name} | {plain:.1f} | {secure:.1f} | {secure - plain:+.1f} |")
    finally:
        shutil.rmtree(d, ignore_errors=True)


main()
