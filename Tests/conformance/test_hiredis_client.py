"""The hiredis C client (hiredis/hiredis_client.c, compiled here with `cc ... -lhiredis`) runs the
same scripted session against redis-server and larder; the printed replies must be identical."""
import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent / "hiredis" / "hiredis_client.c"


@pytest.fixture(scope="module")
def hiredis_client(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler found (cc/gcc/clang)"
    exe = tmp_path_factory.mktemp("hiredis") / "hiredis_client"
    build = subprocess.run([cc, "-O1", "-Wall", "-o", str(exe), str(SOURCE), "-lhiredis"],
                           capture_output=True, text=True)
    assert build.returncode == 0, f"compiling {SOURCE.name} failed:\n{build.stderr}"
    return exe


def test_hiredis_session_matches(pair, hiredis_client):
    outputs = []
    for server in pair:
        p = subprocess.run([str(hiredis_client), str(server.port)], capture_output=True, timeout=60)
        assert p.returncode == 0, f"{server.name}: hiredis_client exited {p.returncode}: {p.stdout[-500:]!r} {p.stderr!r}"
        outputs.append(p.stdout.decode(errors="replace").splitlines())
    ref, lar = outputs
    assert len(ref) > 1000 and "GET big -> type 1, len 4194304, equal 1" in ref, ref[-5:]
    diffs = [f"line {i}:\n    redis : {a}\n    larder: {b}" for i, (a, b) in enumerate(zip(ref, lar)) if a != b]
    assert not diffs and len(ref) == len(lar), "\n".join(diffs[:20]) + f"\n({len(ref)} vs {len(lar)} lines)"
