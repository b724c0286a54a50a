"""What the snapshot benchmarks share: the binaries, a free port, redis-cli, the report."""
import os
import socket
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LARDER = os.environ.get("LARDER_BIN", os.path.join(ROOT, ".build/release/larder"))
BENCH = os.environ.get("LARDER_BENCH_BIN", os.path.join(ROOT, ".build/release/larder-bench"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *words, timeout=600):
    return subprocess.run(["redis-cli", "-p", str(port), *words], capture_output=True, text=True, timeout=timeout).stdout.strip()


def report(lines):
    """Prints the markdown report and writes it to $OUT when set."""
    text = "\n".join(lines) + "\n"
    print(text)
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w") as f:
            f.write(text)
