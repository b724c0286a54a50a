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


def test_user_in_the_url_and_password_from_the_file_authenticate_as_that_acl_user(fresh_servers, tmp_path):
    # The CronJob's form, redis://materialize:@host + --password-file, against redis-server's ACL
    # (the default user off, so only the named user can write).
    repo = tmp_path / "repo"
    shutil.copytree(servers.REPO_ROOT / "feature_repo", repo)
    # redis-server joins the words after --user into one ACL rule.
    ref = fresh_servers("redis", ["--user", "default", "on", "nopass", "~*", "&*", "+ping", "+dbsize",
                                  "--user", "materialize", "on", ">file-pw-2", "~*", "&*", "+@all"])
    pw = tmp_path / "pw"
    pw.write_text("file-pw-2\n")
    done = subprocess.run([str(BINARY), "materialize", str(repo), "2020-01-01", "2030-01-01", "--no-progress",
                           "--target", f"redis://materialize:@127.0.0.1:{ref.port}", "--password-file", str(pw)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ref.client().dbsize() > 0
    # The same URL with the name read as a password (no colon) is refused by the ACL.
    refused = subprocess.run([str(BINARY), "materialize", str(repo), "2020-01-01", "2030-01-01", "--no-progress",
                              "--target", f"redis://materialize@127.0.0.1:{ref.port}"], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "AUTH" in refused.stderr, refused.stderr
