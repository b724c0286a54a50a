"""Right-sized batch jobs (docs/deployment.md, "Sizing batch jobs"):
- `larder materialize --plan` reads only Parquet footers and reports the files, row groups, rows
  and bytes a run will read after pruning by the window: checked against pyarrow's metadata;
- after a run, the prediction comes from the view's recorded history and covers the measured peak;
  `--format k8s-resources` is a resources block;
- SIGTERM stops a run between views (exit 143) with the finished views recorded, and a retried
  `--resume` run skips them and completes."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest
import yaml

import servers

ROOT = servers.REPO_ROOT
BINARY = ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's CLI"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]
COLUMNS = ["entity_id", "f_float", "f_int", "f_text", "event_timestamp"]


def make_repo(path, entities, rows, group, views=1):
    subprocess.run([sys.executable, str(ROOT / "bench/sizing/make_repo.py"), str(path), str(entities), str(rows), str(group)],
                   check=True, timeout=120)
    if views > 1:
        defs = yaml.safe_load((path / "definitions.yaml").read_text())
        base = defs["feature_views"][0]
        defs["feature_views"] = [dict(base, name=f"stats{i}") for i in range(views)]
        (path / "definitions.yaml").write_text(yaml.safe_dump(defs))
    return path


def larder(*args, timeout=120):
    return subprocess.run([str(BINARY)] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def plan_json(repo, start, end, *extra):
    done = larder("materialize", repo, start, end, "--plan", "--format", "json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_plan_reports_what_pyarrow_says_the_window_reads(tmp_path):
    repo = make_repo(tmp_path / "repo", 1000, 20000, 2000)
    start, end = "2025-01-01T00:00:00", "2025-01-11T00:00:00"
    lo = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp() * 1e9)
    hi = int(datetime(2025, 1, 11, tzinfo=timezone.utc).timestamp() * 1e9)
    meta = pq.ParquetFile(repo / "data/stats.parquet").metadata
    groups, rows, disk, decoded = 0, 0, 0, 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        cols = {rg.column(i).path_in_schema: rg.column(i) for i in range(rg.num_columns)}
        stats = cols["event_timestamp"].statistics
        if stats.max.timestamp() * 1e9 < lo or stats.min.timestamp() * 1e9 > hi:
            continue
        groups += 1
        rows += rg.num_rows
        disk += sum(cols[c].total_compressed_size for c in COLUMNS)
        decoded += sum(cols[c].total_uncompressed_size for c in COLUMNS)
    (view,) = plan_json(repo, start, end)["views"]
    assert 0 < groups < meta.num_row_groups, "the window prunes row groups"
    assert (view["row_groups_read"], view["row_groups"], view["rows"]) == (groups, meta.num_row_groups, rows)
    assert (view["bytes_on_disk"], view["bytes_decoded"]) == (disk, decoded)
    assert view["files"] == view["files_read"] == 1 and view["history_runs"] == 0


def test_prediction_learns_from_recorded_runs_and_covers_the_measured_peak(fresh_servers, tmp_path):
    repo = make_repo(tmp_path / "repo", 20000, 200000, 20000)
    server = fresh_servers("larder", ["--threads", "1"])
    target = f"redis://127.0.0.1:{server.port}"
    for days in ("2025-03-01", "2025-01-20", "2025-02-10"):
        run = larder("materialize", repo, "2025-01-01", days, "--target", target, "--no-progress")
        assert run.returncode == 0, run.stderr
    plan = plan_json(repo, "2025-01-01", "2025-02-20")
    (view,) = plan["views"]
    assert view["history_runs"] == 3 and view["basis"].startswith("fit of 3 earlier run(s)")
    server.client().flushall()
    run = larder("materialize", repo, "2025-01-01", "2025-02-20", "--target", target, "--no-progress")
    measured_mib = int(run.stdout.rsplit("peak memory ", 1)[1].split(" MiB")[0])
    predicted_mib = plan["predicted_peak_bytes"] / 2**20
    assert measured_mib <= predicted_mib + 1, (measured_mib, predicted_mib)
    resources = yaml.safe_load(larder("materialize", repo, "2025-01-01", "2025-02-20", "--plan",
                                      "--format", "k8s-resources").stdout)["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert int(resources["limits"]["memory"].removesuffix("Mi")) >= measured_mib


def recorded_views(repo):
    with sqlite3.connect(repo / "data/larder_state.db") as db:
        return {row[0] for row in db.execute("SELECT feature_view FROM materializations")}


def test_sigterm_stops_between_views_and_a_resumed_run_skips_the_finished_ones(fresh_servers, tmp_path):
    repo = make_repo(tmp_path / "repo", 50000, 300000, 30000, views=8)
    server = fresh_servers("larder", ["--threads", "1"])
    argv = [str(BINARY), "materialize", str(repo), "2025-01-01", "2025-06-01", "--no-progress",
            "--target", f"redis://127.0.0.1:{server.port}", "--stop-grace", "3"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (repo / "data/larder_state.db").exists():
            try:
                if recorded_views(repo):
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.01)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - signalled < 5, "stops within seconds"
    assert proc.returncode == 143, (proc.returncode, err)
    done = recorded_views(repo)
    assert 1 <= len(done) < 8, done
    assert "SIGTERM: no new view starts" in err and "stopped by a signal after" in err

    resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    for view in done:
        assert f"{view}: already materialized over this window (--resume): skipped" in resumed.stderr
    assert f"materialized {8 - len(done)} view(s)" in resumed.stdout
    assert recorded_views(repo) == {f"stats{i}" for i in range(8)}


def test_historical_plan_reads_the_views_up_to_the_latest_entity_row(tmp_path):
    repo = make_repo(tmp_path / "repo", 1000, 20000, 2000)
    entities = tmp_path / "entities.csv"
    entities.write_text("entity_id,event_timestamp\n" + "".join(
        f"{i},2025-01-{1 + i % 9:02d}T12:00:00Z\n" for i in range(300)))
    latest = datetime(2025, 1, 9, 12, tzinfo=timezone.utc).timestamp() * 1e9
    meta = pq.ParquetFile(repo / "data/stats.parquet").metadata
    expected = 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        stats = [rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == "event_timestamp"][0].statistics
        expected += stats.min.timestamp() * 1e9 <= latest  # ttl 0: no lower bound
    done = larder("historical", repo, "--entities", entities, "--features", "stats", "--plan")
    assert done.returncode == 0, done.stderr
    assert f"{expected}/{meta.num_row_groups} row group(s)" in done.stdout and expected < meta.num_row_groups
    assert "entities: " in done.stdout and "300 rows" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("predicted peak memory: ")
    assert not (tmp_path / "out.parquet").exists()
