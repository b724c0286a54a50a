#!/usr/bin/env python3
"""Runs the random differential test (random_repos.py) over many seeds, for local use:

  ~/.cache/larder/venv-r7/bin/python Tests/conformance/feast_random/run.py --seeds 0-199

Seeds run in batches (one Feast process per batch), `--jobs` batches at a time. Prints one
line per seed and the divergences found; exit 1 if any. The workspaces stay in --root for
inspection."""
import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_repos  # noqa: E402


def seed_list(text):
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b or a) + 1))
    return seeds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0-19", help="e.g. 0-199 or 3,7,10-12")
    p.add_argument("--batch", type=int, default=10, help="seeds per Feast process")
    p.add_argument("--jobs", type=int, default=1, help="batches run at once")
    p.add_argument("--root", default=None, help="workspace directory (default: a new temporary one)")
    p.add_argument("--no-historical", action="store_true")
    a = p.parse_args()
    root = Path(a.root or tempfile.mkdtemp(prefix="feast_random-"))
    seeds = seed_list(a.seeds)
    batches = [seeds[i:i + a.batch] for i in range(0, len(seeds), a.batch)]
    clock = time.time()
    failed = 0
    total = 0
    with ThreadPoolExecutor(a.jobs) as pool:
        for outcomes in pool.map(lambda b: random_repos.run_cases(b, root, historical=not a.no_historical), batches):
            for o in outcomes:
                total += 1
                s = o.stats
                print(f"seed {o.seed}: {len(o.divergences)} divergences; {s.get('views')} views, "
                      f"{s.get('source_rows')} source rows, {s.get('keys')} keys ({s.get('tied_entities')} tied), csv={s.get('csv')}, "
                      f"{s.get('entity_rows')} entity rows -> {s.get('feast_rows')} Feast rows, "
                      f"same order={s.get('same_order')}, Feast's sorted={s.get('feast_sorted')}"
                      + (", Feast's historical failed (dask)" if s.get("feast_historical_failed") else ""), flush=True)
                for d in o.divergences[:5]:
                    print("   ", d.replace("\n", "\n    "), flush=True)
                failed += bool(o.divergences)
    print(f"{total} seeds, {failed} with divergences, {time.time() - clock:.0f} s; workspaces in {root}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
