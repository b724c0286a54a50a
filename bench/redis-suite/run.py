#!/usr/bin/env python3
"""Runs Redis 7.0.15's own Tcl test suite (external-server mode) against redis-server and
against larder, unit by unit, and prints how many tests each passed (issue 16's measure).

The suite is not part of this repository: give the path of a redis checkout at tag 7.0.15
(for example `git -C REDIS_MIRROR archive 7.0.15 | tar -x -C /tmp/redis-7.0.15`). Nothing
of it is built; `src/redis-cli` and friends are linked to Debian's binaries, which the suite's
helpers call.

  bench/redis-suite/run.py /tmp/redis-7.0.15                      # the issue's 15 units + types
  bench/redis-suite/run.py /tmp/redis-7.0.15 unit/type/incr       # some units
  LARDER_BIN=.build/release/larder ... --out bench/results/redis-suite.md

Each unit runs against a fresh server of each kind (`--threads 2` for larder), with
`--tags -needs:repl -needs:debug -needs:config-maxmemory -needs:save`, `--durable` (a failing
test does not end its unit) and a time limit per unit. Counted: `[ok]`, `[err]`,
`[exception]` lines; a unit that hangs or crashes the server is reported as such."""
import os
from collections import Counter
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["unit/type/string", "unit/type/hash", "unit/type/incr", "unit/keyspace", "unit/expire", "unit/multi",
         "unit/scan", "unit/info", "unit/protocol", "unit/pubsub", "unit/querybuf", "unit/auth",
         "unit/introspection", "unit/introspection-2", "unit/acl",
         "unit/type/list", "unit/type/set", "unit/type/zset", "unit/bitops", "unit/keyspace-events"]
TAGS = ["--tags", "-needs:repl", "--tags", "-needs:debug", "--tags", "-needs:config-maxmemory", "--tags", "-needs:save"]
UNIT_SECONDS = int(os.environ.get("UNIT_SECONDS", "300"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start(kind, port, workdir):
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    else:
        binary = os.environ.get("LARDER_BIN", str(ROOT / ".build/release/larder"))
        cmd = [binary, "serve", "--port", str(port), "--threads", "2", "--no-pin", "--dir", str(workdir)]
    log = open(workdir / f"{kind}.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if not wait_ready(port, proc):
        proc.kill()
        raise SystemExit(f"{kind} did not start: see {workdir}/{kind}.log")
    return proc


def run_unit(suite, unit, kind, workdir):
    port = free_port()
    server = start(kind, port, workdir)
    out = workdir / f"{kind}-{unit.replace('/', '_')}.txt"
    status = "done"
    try:
        with open(out, "w") as f:
            try:
                # A base port of its own: the suite's coordinator listens just below it, and
                # another run of the suite on this machine would collide on the default.
                base = 30000 + (port % 20000)
                subprocess.run(["./runtest", "--host", "127.0.0.1", "--port", str(port), "--single", unit, "--durable",
                                "--clients", "1", "--baseport", str(base), *TAGS], cwd=suite, stdout=f, stderr=subprocess.STDOUT,
                               timeout=UNIT_SECONDS, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                status = f"timed out after {UNIT_SECONDS} s"
        if server.poll() is not None:
            status = f"server exited ({server.returncode})"
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    text = ANSI.sub("", out.read_text(errors="replace"))
    ok = re.findall(r"^\[ok\]: (.*?) \(\d+ ms\)$", text, re.M)
    err = re.findall(r"^\[err\]: (.*)$", text, re.M)
    exc = re.findall(r"^\[exception\]: (.*)$", text, re.M)
    return {"ok": ok, "err": err, "exception": exc, "status": status, "log": out}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_md = None
    if "--out" in sys.argv:
        out_md = Path(sys.argv[sys.argv.index("--out") + 1])
        args = [a for a in args if a != str(out_md)]
    if not args:
        raise SystemExit(__doc__)
    suite = Path(args[0]).resolve()
    units = args[1:] or UNITS
    src = suite / "src"
    src.mkdir(exist_ok=True)
    for tool in ("redis-cli", "redis-server", "redis-benchmark", "redis-check-aof", "redis-check-rdb"):
        link = src / tool
        if not link.exists() and shutil.which(tool):
            link.symlink_to(shutil.which(tool))
    workdir = Path(os.environ.get("WORKDIR", "/tmp/larder-redis-suite"))
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    rows, failures = [], []
    total = {"redis": 0, "larder": 0}
    for unit in units:
        if not (suite / "tests" / f"{unit}.tcl").exists():
            rows.append(f"| {unit} | (not in this version) | | | |")
            continue
        r = run_unit(suite, unit, "redis", workdir)
        l = run_unit(suite, unit, "larder", workdir)
        # Counted per occurrence: a test that runs once per encoding (zset, list) has one name
        # and several [ok] lines; a name counts as often as both servers passed it.
        both = Counter(r["ok"]) & Counter(l["ok"])
        passed_both = sum(both.values())
        total["redis"] += len(r["ok"])
        total["larder"] += passed_both
        share = f"{100 * passed_both / len(r['ok']):.0f}%" if r["ok"] else "-"
        rows.append(f"| {unit} | {len(r['ok'])} | {passed_both} | {share} | {l['status']}"
                    f"{', ' + str(len(l['exception'])) + ' exception(s)' if l['exception'] else ''} |")
        for name in sorted((Counter(r["ok"]) - Counter(l["ok"])).keys()):
            failures.append(f"| {unit} | {name} |")
        print(rows[-1], flush=True)
    share = 100 * total["larder"] / max(1, total["redis"])
    report = ["| unit | redis-server passes | larder passes of those | share | larder run |", "|---|---|---|---|---|",
              *rows, f"| **all** | **{total['redis']}** | **{total['larder']}** | **{share:.1f}%** | |", "",
              "Tests redis-server passes and larder does not:", "", "| unit | test |", "|---|---|", *failures]
    print("\n".join(report[len(rows) + 2:len(rows) + 3]))
    if out_md:
        out_md.write_text("\n".join(report) + "\n")
        print(f"wrote {out_md}")


if __name__ == "__main__":
    main()
