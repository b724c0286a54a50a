"""Starting and stopping the server under test (larder) and the reference redis-server.

LARDER_SERVER_CMD  command for the server under test; "{port}" is replaced by a free port.
                   Default: .build/release/larder serve --port {port}  (relative paths: repo root)
                   Self-check: "redis-server --port {port} --save '' --appendonly no"
REDIS_REF_CMD      the reference; default: redis-server --port {port} --save '' --appendonly no
"""
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_LARDER_CMD = ".build/release/larder serve --port {port}"
DEFAULT_REDIS_CMD = "redis-server --port {port} --save '' --appendonly no"
STARTUP_TIMEOUT_S = 15.0


def larder_cmd_template() -> str:
    return os.environ.get("LARDER_SERVER_CMD") or DEFAULT_LARDER_CMD


def redis_cmd_template() -> str:
    return os.environ.get("REDIS_REF_CMD") or DEFAULT_REDIS_CMD


def larder_is_standin() -> bool:
    """True when LARDER_SERVER_CMD runs redis/valkey itself (the harness self-check)."""
    exe = os.path.basename(shlex.split(larder_cmd_template())[0])
    return exe in ("redis-server", "valkey-server")


def _die_with_parent():
    """Runs in the child before exec: the kernel SIGKILLs the server if pytest dies (killed, timed
    out), so an interrupted run leaves no orphan servers behind."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on a free loopback port. `extra_args` are appended to the command
    (both larder and redis-server accept `--requirepass PW`)."""

    def __init__(self, name: str, template: str, extra_args=()):
        self.name = name
        self._template = template
        self._extra_args = list(extra_args)
        self._pick_port()
        self.workdir = tempfile.mkdtemp(prefix=f"larder-conf-{name}-")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.proc = None

    def _pick_port(self):
        self.port = free_port()
        argv = shlex.split(self._template.replace("{port}", str(self.port)))
        if "/" in argv[0] and not os.path.isabs(argv[0]):
            argv[0] = str(REPO_ROOT / argv[0])
        self.argv = argv + self._extra_args

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self):
        if "/" in self.argv[0] and not os.path.exists(self.argv[0]):
            raise RuntimeError(f"{self.name}: {self.argv[0]} does not exist (run `swift build -c release`, "
                               f"or set LARDER_SERVER_CMD to a stand-in server)")
        # free_port() releases the port before the server binds it, so another process on the
        # machine (a parallel test stage) can take it in between: that start is retried on a new
        # port. Only this port is re-picked; a port a test chose itself fails as it did.
        for attempt in range(3):
            try:
                return self._start_once()
            except RuntimeError as e:
                taken = f":{self.port}: address already in use" in str(e) or \
                    f"*:{self.port}: bind: Address already in use" in str(e)
                if not taken or attempt == 2 or "{port}" not in self._template:
                    raise
                self._pick_port()

    def _start_once(self):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start: "
                                   f"{' '.join(self.argv)}\n{self.log_tail()}")
            if self.answers_ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer PING within {STARTUP_TIMEOUT_S}s: "
                           f"{' '.join(self.argv)}\n{self.log_tail()}")

    def answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = s.recv(64)
                # -NOAUTH counts as up: the server is running with --requirepass.
                return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")
        except OSError:
            return False

    def log_tail(self, n=30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def stop(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self, **kwargs):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        kwargs.setdefault("socket_timeout", 10)
        # No retries: redis-py retries ConnectionError subclasses (AuthenticationError among them)
        # with backoff by default, which only slows down the error cases the tests provoke.
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


def larder_io_args(argv_template: str) -> list:
    """LARDER_IO=uring|epoll: the I/O engine of every larder this run starts (`serve --io`).
    Servers started by tests directly inherit it too: `larder serve` reads $LARDER_IO."""
    io = os.environ.get("LARDER_IO")
    if not io or "--io" in argv_template or " serve" not in argv_template:
        return []
    return ["--io", io]


def start_larder(extra_args=()) -> Server:
    template = larder_cmd_template()
    return Server("larder", template, larder_io_args(template) + list(extra_args)).start()


def start_redis(extra_args=()) -> Server:
    return Server("redis", redis_cmd_template(), extra_args).start()
