"""`larder serve CONFIGFILE`: Redis-style `name value` lines, quotes, comments and `include`; the
command line wins over the file; CONFIG GET reports the same names; bad files refuse to start
with the file and line; the password given in the file shows neither in `ps` nor in the log.
The shared part of the file is loaded by redis-server too, and both report the same values."""
import subprocess

import pytest

import servers

BINARY = servers.REPO_ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's CLI"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]

SECRET = "conf s3cret #1"  # a space and a '#': needs quoting, and is not a comment

COMMON = f"""# Settings redis-server and larder share.
maxclients 77
timeout 5

  # indented comment
requirepass "{SECRET}"
protected-mode no
"""


@pytest.fixture
def config_files(tmp_path):
    common = tmp_path / "common.conf"
    common.write_text(COMMON)
    (tmp_path / "keepalive.conf").write_text("tcp-keepalive 42\n")
    larder_conf = tmp_path / "larder.conf"
    larder_conf.write_text(f"include {common}\ninclude {tmp_path / 'keepalive.conf'}\n"
                           "threads 1\npin no\n'proto-max-bulk-len' 2mb\n")
    redis_conf = tmp_path / "redis.conf"
    redis_conf.write_text(f"include {common}\ninclude {tmp_path / 'keepalive.conf'}\nproto-max-bulk-len 2mb\n")
    return larder_conf, redis_conf


def start(name, template):
    return servers.Server(name, template).start()


def test_file_settings_apply_and_the_command_line_wins(config_files):
    larder_conf, redis_conf = config_files
    started = [start("larder", f"{BINARY} serve {larder_conf} --port {{port}} --maxclients 88"),
               start("redis", f"redis-server {redis_conf} --port {{port}} --save '' --appendonly no --maxclients 88")]
    try:
        answers = []
        for server in started:
            c = server.client(password=SECRET)
            answers.append(c.config_get("maxclients") | c.config_get("timeout") | c.config_get("tcp-keepalive")
                           | c.config_get("protected-mode") | c.config_get("proto-max-bulk-len") | c.config_get("requirepass"))
        assert answers[0] == {"maxclients": "88", "timeout": "5", "tcp-keepalive": "42", "protected-mode": "no",
                              "proto-max-bulk-len": "2097152", "requirepass": SECRET}
        assert answers[0] == answers[1]
        larder = started[0]
        with open(f"/proc/{larder.pid}/cmdline", "rb") as f:
            assert b"s3cret" not in f.read()
        log = larder.log_tail(500)
        assert "s3cret" not in log and str(larder_conf) in log
        with pytest.raises(Exception):
            larder.client().ping()  # the password from the file is required
    finally:
        for server in started:
            server.stop()


@pytest.mark.parametrize("lines, line, reason", [
    ("port 7000\nno-such-setting 1\n", 2, "unknown setting 'no-such-setting'"),
    ("# a comment\n\nport seven\n", 3, "invalid value for 'port'"),
    ("bind \"127.0.0.1\n", 1, "unbalanced quotes"),
    ("pin maybe\n", 1, "invalid value for 'pin'"),
    ("maxclients 1 2\n", 1, "invalid value for 'maxclients'"),
    ("include /nonexistent/larder-extra.conf\n", 1, "cannot read the included file /nonexistent/larder-extra.conf"),
])
def test_bad_file_refuses_to_start_naming_file_and_line(tmp_path, lines, line, reason):
    conf = tmp_path / "bad.conf"
    conf.write_text(lines)
    done = subprocess.run([str(BINARY), "serve", str(conf), "--port", str(servers.free_port())],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"{conf}:{line}: {reason}" in done.stderr, done.stderr


def test_include_loop_and_missing_file_are_refused(tmp_path):
    loop = tmp_path / "loop.conf"
    loop.write_text(f"include {loop}\n")
    done = subprocess.run([str(BINARY), "serve", str(loop)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and f"{loop}:1: include nested deeper" in done.stderr, done.stderr
    done = subprocess.run([str(BINARY), "serve", str(tmp_path / "absent.conf")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "absent.conf: cannot read the configuration file" in done.stderr


def test_docker_example_config_is_valid(tmp_path):
    example = servers.REPO_ROOT / "docker/larder.conf"
    # The example binds 0.0.0.0 with a password; here only its validity is checked, on a free port.
    server = start("larder", f"{BINARY} serve {example} --port {{port}} --bind 127.0.0.1 --threads 1 --no-pin --dir {tmp_path}")
    try:
        c = server.client(password="change-me")
        assert c.config_get("protected-mode") == {"protected-mode": "yes"}
        assert c.config_get("save") == {"save": "3600 1 300 100 60 10000"}, "Redis' default save points"
        assert "change-me" not in server.log_tail(500)
    finally:
        server.stop()
