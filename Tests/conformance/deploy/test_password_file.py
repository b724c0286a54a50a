"""`larder materialize --password-file F` (the Kubernetes CronJob reads its password from a
mounted Secret): the password is neither on the command line nor in the environment."""
import shutil
import subprocess

import pytest

import servers

BINARY = servers.REPO_ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's CLI"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]


def materialize(repo, port, *args):
    return subprocess.run([str(BINARY), "materialize", str(repo), "2020-01-01", "2030-01-01", "--no-progress",
                           "--target", f"redis://127.0.0.1:{port}"] + list(args),
                          capture_output=True, text=True, timeout=120)


def test_password_file_authenticates_and_bad_files_are_named(fresh_servers, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(servers.REPO_ROOT / "feature_repo", repo)
    server = fresh_servers("larder", ["--threads", "1", "--requirepass", "file-pw-1"])
    good = tmp_path / "pw"
    good.write_text("file-pw-1\n")
    done = materialize(repo, server.port, "--password-file", str(good))
    assert done.returncode == 0, done.stderr
    assert server.client(password="file-pw-1").dbsize() > 0

    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    assert materialize(repo, server.port, "--password-file", str(wrong)).returncode != 0
    missing = materialize(repo, server.port, "--password-file", str(tmp_path / "absent"))
    assert missing.returncode != 0 and "absent: cannot read the file" in missing.stderr
    both = materialize(repo, server.port, "--password-file", str(good), "--password", "x")
    assert both.returncode != 0 and "not both" in both.stderr
