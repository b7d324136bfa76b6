"""Times lift's metrics query without and with CUPED back to back, as the results bench dumped them
(`RESULTS_BENCH_DUMP_SQL=DIR`: `<size>_<table>_metrics[_cuped].sql` and `.params`), with lift's
memory settings, polling each query's peak memory from `system.processes`.

    python3 benches/results/cuped_pair.py [size=10000000] [rounds=5]   # DIR from RESULTS_BENCH_DUMP_SQL

One warm-up round, then `rounds`; per table kind the median ratio of the two queries per round.
"""
import os, sys, time, threading, urllib.request, urllib.parse

URL = "http://127.0.0.1:8123/"
DIR = os.environ.get("RESULTS_BENCH_DUMP_SQL", "/tmp/lift-results-sql")
SETTINGS = {"max_memory_usage": "4000000000", "max_bytes_before_external_group_by": "2000000000",
            "max_execution_time": "600"}

def load(name):
    sql = open(f"{DIR}/{name}.sql").read()
    params = dict(line.rstrip("\n").split("=", 1) for line in open(f"{DIR}/{name}.params") if line.strip())
    return sql, params

def post(sql, args):
    req = urllib.request.Request(URL + "?" + urllib.parse.urlencode(args), data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=900) as r:
        return r.read()

def run(name):
    sql, params = load(name)
    # The engine lists parameterised queries re-formatted (comments dropped), so a query is found
    # by its shape: the CUPED one has the covariate's arrays, the other not (run one at a time).
    cuped = name.endswith("_cuped")
    shape = ("query LIKE '%sum_sq_by_metric%' AND query " + ("" if cuped else "NOT ")
             + "LIKE '%sum_x_by_metric%' AND query NOT LIKE '%system.processes%'")
    args = dict(params, **SETTINGS)
    peak = [0]
    done = threading.Event()
    def poll():
        while not done.is_set():
            try:
                v = post(f"SELECT max(peak_memory_usage) FROM system.processes WHERE {shape}", {}).strip()
                if v and v != b"\\N":
                    peak[0] = max(peak[0], int(v))
            except Exception:
                pass
            time.sleep(0.05)
    t = threading.Thread(target=poll); t.start()
    began = time.time()
    try:
        rows = post(sql, args)
    finally:
        done.set(); t.join()
    return time.time() - began, peak[0], len(rows.splitlines())

def load_avg():
    return open("/proc/loadavg").read().split()[0]

size = sys.argv[1] if len(sys.argv) > 1 else "10000000"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
for table in ["events_dedup", "events"]:
    ratios = []
    for r in range(rounds + 1):
        a = run(f"{size}_{table}_metrics")
        b = run(f"{size}_{table}_metrics_cuped")
        tag = "warm-up" if r == 0 else f"run {r}"
        print(f"{table:13} {tag:8} without {a[0]*1e3:8.0f} ms peak {a[1]/1e6:7.0f} MB | with CUPED {b[0]*1e3:8.0f} ms peak {b[1]/1e6:7.0f} MB | {b[0]/a[0]:.2f}x | rows {a[2]}/{b[2]} | load {load_avg()}", flush=True)
        if r > 0:
            ratios.append(b[0] / a[0])
    ratios.sort()
    print(f"{table}: median ratio {ratios[len(ratios)//2]:.2f}x over {rounds} runs", flush=True)
