#!/usr/bin/env python3
"""lift's compiled results queries on one table vs on an emulated two-shard cluster (see cluster.md).

Runs in-process on chdb (the engine of scripts/clickhouse-local) with tests/api/results/two_shards.xml,
whose two shards are both this process. The SQL is lift's own: the snapshot files of the fixture
scope (src/sql/snapshots/{metrics,exposures}{,_cluster}.sql) with their parameter texts, so the data
generated here follows that scope (environment prod, feature new-checkout, exposure event
$feature_flag_called, purchases with `plan` and `amount` properties in March 2024).

Three ways to read the same events:
  single       the one-server query over `events` (every event in one MergeTree table);
  cluster      lift's cluster query: cluster('lift_two_shards', view(<per-shard query>)) over
               `events_local`, a view that on shard k reads the physical table `shard_k` (the events
               of identities with cityHash64(identifier) % 2 + 1 = k);
  distributed  the one-server query over a Distributed table on `events_local`: the alternative this
               design rejects (the per-identity GROUP BY is merged on the initiator);
  one-shard cluster  lift's cluster query over `events` on a cluster of one (local) shard: what
               the wrapper (cluster(), view(), the merge) costs by itself;
  one shard    the one-server query over `shard_1` alone: what each server of a real two-server
               cluster runs (in parallel with the other), i.e. the floor of the cluster's time.

  python3 benches/cluster/emulated.py --identities 300000 --runs 5
"""
import argparse, os, re, shutil, statistics, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAPSHOTS = os.path.join(ROOT, "src/sql/snapshots")
# The tests' two-shard cluster, plus a cluster of one shard to measure the wrapper alone.
CONFIG = """<clickhouse>
    <tcp_port>9000</tcp_port>
    <remote_servers>
        <lift_two_shards>
            <shard><replica><host>127.0.0.1</host><port>9000</port></replica></shard>
            <shard><replica><host>localhost</host><port>9000</port></replica></shard>
        </lift_two_shards>
        <lift_one_shard>
            <shard><replica><host>127.0.0.1</host><port>9000</port></replica></shard>
        </lift_one_shard>
    </remote_servers>
</clickhouse>
"""

COLUMNS = """(environment_key String, event String, feature_name String, identifier String,
    timestamp DateTime64(3, 'UTC'), collected_at DateTime64(3, 'UTC'), value String, metadata String)
    ENGINE = MergeTree ORDER BY (environment_key, event, feature_name, timestamp, identifier)"""


def snapshot(name):
    """(sql, {param: text}) of a snapshot file."""
    text = open(os.path.join(SNAPSHOTS, name)).read()
    sql, _, tail = text.partition("\n-- p0 = ")
    params = {}
    for line in ("-- p0 = " + tail).splitlines():
        m = re.fullmatch(r"-- (p\d+) = (.*)", line)
        if m:
            params[m.group(1)] = m.group(2)
    return sql, params


def load(conn, identities):
    q = lambda sql: conn.query(sql)
    q("CREATE DATABASE bench")
    for table in ("events", "shard_1", "shard_2"):
        q(f"CREATE TABLE bench.{table} {COLUMNS}")
    # Each identity: one or two exposures (1 in 20 sees both variants), 0-4 purchases after it,
    # a fifth of them with plan pro or team, and an amount.
    start = "toDateTime64('2024-03-01 00:00:00', 3, 'UTC')"
    q(f"""INSERT INTO bench.events
        SELECT 'prod', '$feature_flag_called', 'new-checkout', concat('user-', toString(n)),
               {start} + toIntervalSecond(cityHash64(n, 1) % (13 * 86400)) + toIntervalSecond(k * 3600),
               now64(3), if((cityHash64(n, 2) % 2) = k, 'control', 'treatment'), '{{}}'
        FROM (SELECT number AS n FROM numbers({identities})) ARRAY JOIN range(if(n % 20 = 0, 2, 1)) AS k""")
    q(f"""INSERT INTO bench.events
        SELECT 'prod', 'purchase', '', concat('user-', toString(n)),
               {start} + toIntervalSecond(cityHash64(n, 1) % (13 * 86400)) + toIntervalSecond(3600 * (j + 1) * 7),
               now64(3), toString(cityHash64(n, j) % 100),
               concat('{{"plan":"', ['free', 'free', 'free', 'pro', 'team'][1 + cityHash64(n, j, 3) % 5],
                      '","amount":', toString((cityHash64(n, j, 4) % 10000) / 100), '}}')
        FROM (SELECT number AS n FROM numbers({identities})) ARRAY JOIN range(cityHash64(n, 5) % 5) AS j""")
    for k in (1, 2):
        q(f"INSERT INTO bench.shard_{k} SELECT * FROM bench.events WHERE cityHash64(identifier) % 2 + 1 = {k}")
    q("OPTIMIZE TABLE bench.events FINAL")
    q("OPTIMIZE TABLE bench.shard_1 FINAL")
    q("OPTIMIZE TABLE bench.shard_2 FINAL")
    # On shard k only shard_k is read: shardNum() is a constant there, so the other branch's
    # filter is constantly false.
    q("""CREATE VIEW bench.events_local AS
        SELECT * FROM bench.shard_1 WHERE shardNum() = 1
        UNION ALL SELECT * FROM bench.shard_2 WHERE shardNum() = 2""")
    q(f"CREATE TABLE bench.events_dist AS bench.events ENGINE = Distributed(lift_two_shards, bench, events_local)")
    return int(conn.query("SELECT count() FROM bench.events").bytes())


def variants():
    """(query kind, way, sql, params) for every measured query."""
    out = []
    for kind in ("exposures", "metrics"):
        sql, params = snapshot(f"{kind}.sql")
        out.append((kind, "single", sql, dict(params, p0="bench", p1="events")))
        out.append((kind, "distributed", sql, dict(params, p0="bench", p1="events_dist")))
        out.append((kind, "one shard", sql, dict(params, p0="bench", p1="shard_1")))
        sql, params = snapshot(f"{kind}_cluster.sql")
        out.append((kind, "cluster", sql, dict(params, p0="bench", p1="events_local")))
        cluster_param = max(params, key=lambda p: int(p[1:]))      # bound last
        out.append((kind, "one-shard cluster", sql,
                    dict(params, p0="bench", p1="events", **{cluster_param: "lift_one_shard"})))
    return out


def rounded(rows):
    def cell(text):
        try:
            return text if text.isdigit() else f"{float(text):.12g}"
        except ValueError:
            return text
    return tuple(tuple(cell(c) for c in line.split("\t")) for line in rows.decode().splitlines())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--identities", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import chdb
    data = tempfile.mkdtemp(prefix="lift-cluster-bench-")
    try:
        config = os.path.join(data, "clusters.xml")
        with open(config, "w") as f:
            f.write(CONFIG)
        conn = chdb.connect(f"{data}/db?config-file={config}")
        started = time.time()
        events = load(conn, args.identities)
        print(f"{events} events of {args.identities} identities loaded in {time.time() - started:.1f} s; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        cases = variants()
        answers, times = {}, {}
        for run in range(args.runs):
            order = cases if run % 2 == 0 else list(reversed(cases))   # alternate
            for kind, way, sql, params in order:
                t = time.perf_counter()
                result = conn.query(sql, "TSV", params=params)
                times.setdefault((kind, way), []).append(time.perf_counter() - t)
                if way != "one shard":
                    answers.setdefault(kind, {})[way] = result.bytes()
        for kind, by_way in answers.items():
            # Float sums may differ in the last bits (addition order); everything else exactly.
            same = len({rounded(rows) for rows in by_way.values()}) == 1
            print(f"{kind}: the {len(by_way)} ways give {'the same' if same else 'DIFFERENT'} rows "
                  f"(sums to 12 significant digits)")
            if not same:
                for way, rows in by_way.items():
                    print(f"  {way}:\n{rows.decode()}")
        print(f"\n| query | way | median (s) | runs | / single |\n|---|---|---|---|---|")
        for kind in ("exposures", "metrics"):
            base = statistics.median(times[(kind, "single")])
            for way in ("single", "one-shard cluster", "cluster", "distributed", "one shard"):
                ts = times[(kind, way)]
                m = statistics.median(ts)
                print(f"| {kind} | {way} | {m:.3f} | {', '.join(f'{x:.2f}' for x in ts)} | {m / base:.2f} |")
        print(f"\nload after: {os.getloadavg()[0]:.2f}")
        conn.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
