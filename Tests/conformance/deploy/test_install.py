"""Installation (docs/deployment.md, "Install"): scripts/install.sh (run by scripts/build.sh)
puts `larder` on PATH as a symlink to the release build, and `larder --version` names the
version, the git commit the binary was built from, its date and the build configuration."""
import os
import re
import subprocess

import pytest

import servers

ROOT = servers.REPO_ROOT
BINARY = ROOT / ".build/release/larder"
pytestmark = pytest.mark.skipif(not BINARY.exists(), reason="needs the release build (scripts/build.sh)")

VERSION = re.compile(r"^larder (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}|unknown)( with uncommitted changes)? "
                     r"(\S+), (release|debug), (shared|static) Swift runtime, Swift [\d.+x]+\)$")


def test_install_links_larder_into_a_bin_dir_and_it_runs_from_path(tmp_path):
    bin_dir = tmp_path / "bin"
    done = subprocess.run([str(ROOT / "scripts/install.sh"), str(bin_dir)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    link = bin_dir / "larder"
    assert link.is_symlink() and os.path.realpath(link) == os.path.realpath(BINARY)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")
    version = subprocess.run(["larder", "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert version.returncode == 0 and VERSION.match(version.stdout.strip()), version.stdout


def test_version_names_the_commit_it_was_built_from():
    line = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    m = VERSION.match(line)
    assert m, line
    assert m.group(5) == "release" and m.group(6) == "shared"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: the commit reads unknown")
    # The binary is at most as new as HEAD: built from it, or from a commit HEAD descends from.
    built = m.group(2)
    assert built == head.stdout.strip() or subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "--is-ancestor", built, "HEAD"]).returncode == 0


def test_install_without_a_build_says_what_to_do(tmp_path):
    # A copy of the script in a checkout with no .build: a clear error, nothing linked.
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts/install.sh"
    script.write_text((ROOT / "scripts/install.sh").read_text())
    script.chmod(0o755)
    done = subprocess.run([str(script), str(tmp_path / "bin")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "run ./scripts/build.sh first" in done.stderr
    assert not (tmp_path / "bin/larder").exists()
