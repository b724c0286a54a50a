#!/usr/bin/env python3
# perf_split.py DATA REQUESTS: a `perf record -e cpu-clock -g` profile of a server split per request
# (us) into user space and kernel classes by the sampled stack: the scheduler (top frame), eventfd /
# MSG_RING wake-ups, the network stack, the rest. bench/results/engine.md "Stop 26".
import subprocess, sys, re
data, n = sys.argv[1], int(sys.argv[2])
out = subprocess.run(["perf", "script", "-i", data, "-F", "period,ip,sym,dso"], capture_output=True, text=True).stdout
cat = {}
total = 0
# group by sample: perf script prints a header line per sample, then the callchain lines
samples = out.split("\n\n")
for s in samples:
    lines = [l.strip() for l in s.strip().split("\n") if l.strip()]
    if not lines: continue
    m = re.match(r"(\d+)", lines[0]);
    if not m: continue
    period = int(m.group(1)); chain = " ".join(lines[1:])
    top = lines[1] if len(lines) > 1 else ""
    if "[kernel" not in top: c = "user"
    elif re.search(r"finish_task_switch|__schedule|schedule|pick_next|enqueue_task|dequeue_task|try_to_wake_up|update_curr|switch_mm|__switch_to", top): c = "k:sched"
    elif "eventfd" in chain or "io_msg_ring" in chain: c = "k:wake(eventfd/msg_ring)"
    elif re.search(r"tcp_|sock_|skb|net_rx|ip_", chain): c = "k:net"
    else: c = "k:other"
    cat[c] = cat.get(c, 0) + period; total += period
for c in sorted(cat): print(f"{c:28s} {cat[c]/1000/n:6.2f} us/op  {cat[c]/total:5.1%}")
print(f"{'total':28s} {total/1000/n:6.2f} us/op")
