"""Scripted multi-connection sessions run against two servers and compared step by step.

A script is a list of steps: (conn, args) or (conn, args, mode). `conn` names a connection
("a", "b", ...) opened on first use (after HELLO 3 when protocol=3, reply not compared).
Modes: those of compare.normalize_session, plus
  "closed"   the step sends args (if any) and records whether the server then closed the conn.
Args may contain "{id:a}": replaced by connection a's CLIENT ID on that server.
"""
from compare import normalize_session
from resp import ConnectionClosed, RespConn, encode


def run_session(server, steps, protocol=2):
    conns, ids, out = {}, {}, []
    try:
        for step in steps:
            name, args = step[0], step[1]
            mode = step[2] if len(step) > 2 else "exact"
            if name not in conns:
                conns[name] = RespConn(server.port)
                if protocol == 3:
                    conns[name].call("HELLO", "3")
                ids[name] = conns[name].call("CLIENT", "ID").value
            args = [substitute(a, ids) for a in args]
            conn = conns[name]
            if mode == "closed":
                if args:
                    conn.send_raw(encode(*args))
                out.append(("closed", conn.is_closed_by_server()))
                continue
            try:
                out.append(normalize_session(conn.call(*args), mode))
            except ConnectionClosed:
                out.append("connection closed")
    finally:
        for c in conns.values():
            c.close()
    return out


def substitute(arg, ids):
    if isinstance(arg, str) and arg.startswith("{id:") and arg.endswith("}"):
        return str(ids[arg[4:-1]])
    return arg


def assert_same_session(ref_server, lar_server, steps, protocol=2):
    ref = run_session(ref_server, steps, protocol)
    lar = run_session(lar_server, steps, protocol)
    diffs = []
    for i, (step, a, b) in enumerate(zip(steps, ref, lar)):
        if a != b:
            diffs.append(f"step {i} {step[0]}: {step[1]!r}\n    redis : {a!r}\n    larder: {b!r}")
    assert not diffs, f"{len(diffs)} step(s) differ (protocol {protocol}):\n" + "\n".join(diffs)
