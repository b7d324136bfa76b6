#!/usr/bin/env python3
"""Runs one query written by `RESULTS_BENCH_DUMP_SQL=DIR` against the local engine with chosen
memory and spill settings, and prints its time, peak memory and a digest of its answer (equal
digests: equal answers). Parameters are substituted as literals: the local engine shows a query
with bound parameters in `system.processes` without its memory, so peak memory needs literals.

    benches/results/run_dumped.py DIR/10000000_events_dedup_metrics MAX_MEMORY GROUP_BY_SPILL JOIN [JOIN_BYTES]

JOIN is a `join_algorithm` (`grace_hash`, `hash`) or `-` for the server's default.
"""
import hashlib
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

URL = "http://127.0.0.1:8123/"


def literal(params, match):
    value, kind = params["param_" + match.group(1)], match.group(2)
    if kind.startswith("Array") or re.match(r"U?Int|Float", kind):
        return value
    if kind == "Identifier":
        return "`" + value.replace("`", "``") + "`"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main():
    base, max_memory, group_by, join = sys.argv[1:5]
    join_bytes = sys.argv[5] if len(sys.argv) > 5 else "0"
    params = {}
    try:
        with open(base + ".params") as f:
            for line in f:
                name, value = line.rstrip("\n").split("=", 1)
                params[name] = value
    except FileNotFoundError:
        pass
    with open(base + ".sql") as f:
        sql = re.sub(r"\{(\w+):([^}]+)\}", lambda m: literal(params, m), f.read())
    marker = "run-dumped-" + uuid.uuid4().hex
    settings = {"max_memory_usage": max_memory, "max_bytes_before_external_group_by": group_by,
                "max_bytes_in_join": join_bytes, "max_execution_time": "1800", "default_format": "TSV"}
    if join != "-":
        settings["join_algorithm"] = join
    peak, done = [0], threading.Event()

    def poll():
        query = ("SELECT max(peak_memory_usage) FROM system.processes WHERE query LIKE "
                 f"'%{marker}%' AND query NOT LIKE '%system.processes%'")
        while not done.is_set():
            try:
                answer = urllib.request.urlopen(URL + "?" + urllib.parse.urlencode({"query": query}), timeout=5)
                peak[0] = max(peak[0], int(answer.read().strip() or 0))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)

    threading.Thread(target=poll, daemon=True).start()
    began = time.time()
    request = urllib.request.Request(URL + "?" + urllib.parse.urlencode(settings),
                                     data=f"/* {marker} */\n{sql}".encode())
    try:
        body, ok = urllib.request.urlopen(request, timeout=1900).read(), True
    except urllib.error.HTTPError as e:
        body, ok = e.read(), False
    elapsed = time.time() - began
    done.set()
    outcome = hashlib.md5(body).hexdigest()[:10] if ok else body[:300].decode(errors="replace").strip()
    print(f"{base.rsplit('/', 1)[-1]} memory={max_memory} group_by={group_by} join={join}/{join_bytes}: "
          f"{elapsed:.2f} s, peak {peak[0] / 1e6:.0f} MB, {'ok ' if ok else 'FAILED '}{outcome}")


if __name__ == "__main__":
    main()
