"""A large view's read is checkpointed at file boundaries (docs/deployment.md, "Stopping and
retrying"): a run stopped after some of its files (as by SIGTERM) exits 143 and keeps them in a
checkpoint; the retried run starts after them, and the store ends exactly as after one
uninterrupted run. A checkpoint of another window, or a damaged one, is ignored with a message."""
import subprocess
import sys

import pyarrow.parquet as pq
import pyarrow.compute as pc
import pytest
import yaml

import servers

ROOT = servers.REPO_ROOT
BINARY = ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's CLI"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]
FILES = 6


def make_repo(path, key_type):
    """bench/sizing's repo with its rows split over FILES Parquet files in a directory source
    (time-sorted, so each file is a slice of the 100 days), keyed by int64 or string ids."""
    subprocess.run([sys.executable, str(ROOT / "bench/sizing/make_repo.py"), str(path), "3000", "60000", "5000"],
                   check=True, timeout=120)
    table = pq.read_table(path / "data/stats.parquet")
    if key_type == "string":
        table = table.set_column(0, "entity_id", pc.cast(table["entity_id"], "string"))
    (path / "data/stats.parquet").unlink()
    (path / "data/stats").mkdir()
    per = len(table) // FILES
    for i in range(FILES):
        part = table.slice(i * per, per if i < FILES - 1 else len(table) - i * per)
        pq.write_table(part, path / f"data/stats/part-{i}.parquet", row_group_size=5000)
    defs = yaml.safe_load((path / "definitions.yaml").read_text())
    defs["file_sources"][0]["path"] = "data/stats"
    if key_type == "string":
        defs["entities"][0]["value_type"] = "STRING"
        defs["feature_views"][0]["schema"][0]["dtype"] = "String"
    (path / "definitions.yaml").write_text(yaml.safe_dump(defs))
    return path


def materialize(repo, port, *extra, start="2025-01-01", end="2025-06-01"):
    return subprocess.run([str(BINARY), "materialize", str(repo), start, end, "--no-progress",
                           "--target", f"redis://127.0.0.1:{port}", *extra],
                          capture_output=True, text=True, timeout=120)


def keyspace(server):
    c = server.client()
    return {k: c.hgetall(k) for k in c.scan_iter(count=1000)}


@pytest.mark.parametrize("key_type", ["int64", "string"])
def test_a_stopped_view_resumes_after_its_finished_files(fresh_servers, tmp_path, key_type):
    repo = make_repo(tmp_path / "repo", key_type)
    stopped_into = fresh_servers("larder", ["--threads", "1"])
    clean_into = fresh_servers("larder", ["--threads", "1"])
    checkpoint = repo / "data/checkpoints/sizing.stats.ckpt"

    stopped = materialize(repo, stopped_into.port, "--checkpoint-seconds", "0", "--stop-after-files", "2")
    assert stopped.returncode == 143, stopped.stderr
    assert f"stopped by a signal in view stats after 2 of {FILES} file(s)" in stopped.stderr
    assert checkpoint.exists()
    assert stopped_into.client().dbsize() == 0  # nothing written yet: the read was cut

    resumed = materialize(repo, stopped_into.port, "--checkpoint-seconds", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert f"stats: resuming after 2 of {FILES} file(s) read by an earlier run" in resumed.stderr
    assert not checkpoint.exists()  # recorded: nothing left to resume

    clean = materialize(tmp_path_copy(repo, tmp_path), clean_into.port, "--no-checkpoints")
    assert clean.returncode == 0, clean.stderr
    assert "resuming" not in clean.stderr
    resumed_keys, clean_keys = keyspace(stopped_into), keyspace(clean_into)
    assert len(clean_keys) == 3000
    assert resumed_keys == clean_keys


def tmp_path_copy(repo, tmp_path):
    """The same repo with an empty state database (its own checkpoints and history)."""
    import shutil
    other = tmp_path / "clean"
    shutil.copytree(repo, other, ignore=shutil.ignore_patterns("larder_state.db", "checkpoints"))
    return other


def test_a_checkpoint_of_another_window_or_a_damaged_one_is_ignored(fresh_servers, tmp_path):
    repo = make_repo(tmp_path / "repo", "int64")
    server = fresh_servers("larder", ["--threads", "1"])
    checkpoint = repo / "data/checkpoints/sizing.stats.ckpt"
    assert materialize(repo, server.port, "--checkpoint-seconds", "0", "--stop-after-files", "3").returncode == 143

    other = materialize(repo, server.port, "--checkpoint-seconds", "0", "--stop-after-files", "1", end="2025-05-01")
    assert "ignored (made by a run over another window, worker share or version of the source files)" in other.stderr
    assert other.returncode == 143

    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    done = materialize(repo, server.port, "--checkpoint-seconds", "0", end="2025-05-01")
    assert done.returncode == 0, done.stderr
    assert "ignored (cut short at byte" in done.stderr
    assert "resuming" not in done.stderr
    assert server.client().dbsize() > 0
