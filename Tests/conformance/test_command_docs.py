"""Redis' documentation of the commands Larder implements is generated, not hand-edited:
scripts/gen-command-docs.py, run against this machine's redis-server and the built larder,
reproduces Sources/LarderServer/Commands/RedisCommandDocs.swift byte for byte. A command
added to or removed from a family table without re-running the generator fails here."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_generated_command_docs_are_current():
    larder = os.path.join(ROOT, ".build/release/larder")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen-command-docs.py"), "--check",
                        "--larder", larder], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compatibility_table_is_current():
    """docs/compatibility.md's command table says, for every Redis 7.0 command and subcommand,
    whether Larder has it: it must match the built larder's COMMAND LIST."""
    larder = os.path.join(ROOT, ".build/release/larder")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen-compatibility.py"), "--check",
                        "--larder", larder], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
