//! The summary: per size and table kind, each query's median time and peak memory, and the
//! ratios to the floors measured in the same runs.

use crate::load::LoadTimes;
use crate::measure::Samples;
use crate::size_run::{KindSamples, Measured};

/// The goal for lift's metrics query on the deduplicating table against the per-identity floor.
const GOAL_RATIO: f64 = 2.0;

/// The goal for the metrics query with CUPED against the same query without it.
const CUPED_GOAL_RATIO: f64 = 1.3;

pub struct Row {
    pub size: u64,
    pub load: Option<LoadTimes>,
    pub dedup_load: Option<LoadTimes>,
    pub measured: Measured,
}

fn load_text(load: &Option<LoadTimes>) -> String {
    match load {
        Some(t) => format!(
            "{:.1} + {:.1}",
            t.insert.as_secs_f64(),
            t.optimize.as_secs_f64()
        ),
        None => "reused".to_owned(),
    }
}

fn cell(s: &Samples) -> String {
    format!(
        "{:.0} [{:.0}–{:.0}] {:.0} MB",
        s.median(),
        s.min(),
        s.max(),
        s.peak_bytes as f64 / 1e6
    )
}

fn line(size: u64, kind: &str, k: &KindSamples) {
    println!(
        "{:>10} | {:<6} | {:>26} | {:>26} | {:>26} | {:>26} | {:>5.2}× | {:>5.2}× | {:>5.2}×",
        size,
        kind,
        cell(&k.scan),
        cell(&k.floor),
        cell(&k.exposures),
        cell(&k.metrics),
        k.metrics.median_ratio(&k.floor),
        k.exposures.median_ratio(&k.floor),
        k.metrics.median_ratio(&k.scan),
    );
}

pub fn print(rows: &[Row]) {
    println!();
    println!(
        "times in ms: median [min–max], then the largest peak memory seen; load s = insert + \
         OPTIMIZE FINAL (\"reused\": loaded by an earlier run)"
    );
    println!(
        "{:>10} | {:<6} | {:>26} | {:>26} | {:>26} | {:>26} | {:>6} | {:>6} | {:>6}",
        "events",
        "table",
        "plain scan",
        "per-identity floor",
        "lift exposures",
        "lift metrics",
        "m/floor",
        "e/floor",
        "m/scan"
    );
    for row in rows {
        line(row.size, "dedup", &row.measured.dedup);
        line(row.size, "plain", &row.measured.plain);
    }
    println!(
        "m/floor, e/floor, m/scan = median over runs of lift metrics (exposures) / the floor (scan) \
         in the same run; dedup = the table lift creates (ReplacingMergeTree, FINAL), plain = a \
         MergeTree deduplicated at read time"
    );
    for row in rows {
        println!(
            "{} events: load plain {} s, dedup copy {} s; independent check {:.0} ms; {}",
            row.size,
            load_text(&row.load),
            load_text(&row.dedup_load),
            row.measured.check.median(),
            if row.measured.agree {
                "lift equals the check on both kinds"
            } else {
                "MISMATCH (see above)"
            }
        );
        if let Some((extra, same)) = &row.measured.extra {
            println!(
                "  extra query: {}, {:.2}× the floor per run, {}",
                cell(extra),
                extra.median_ratio(&row.measured.dedup.floor),
                if *same {
                    "same numbers"
                } else {
                    "DIFFERENT numbers"
                }
            );
        }
        let ratio = row
            .measured
            .dedup
            .metrics
            .median_ratio(&row.measured.dedup.floor);
        if ratio > GOAL_RATIO {
            println!(
                "  note: lift's metrics query on the deduplicating table takes {ratio:.2}× the \
                 per-identity floor (goal ≤ {GOAL_RATIO}×)"
            );
        }
    }
    println!(
        "with CUPED ({} days' lookback), run right after the metrics query in every round:",
        crate::scope::CUPED_LOOKBACK_DAYS
    );
    for row in rows {
        for (kind, k) in [
            ("dedup", &row.measured.dedup),
            ("plain", &row.measured.plain),
        ] {
            let ratio = k.metrics_cuped.median_ratio(&k.metrics);
            println!(
                "{:>10} | {:<6} | without {:>26} | with {:>26} | {:.2}× per run (goal ≤ {}×){}",
                row.size,
                kind,
                cell(&k.metrics),
                cell(&k.metrics_cuped),
                ratio,
                CUPED_GOAL_RATIO,
                if ratio > CUPED_GOAL_RATIO {
                    "  NOT MET"
                } else {
                    ""
                },
            );
        }
    }
    println!(
        "one metric of every kind ({}), run right after CUPED in every round:",
        crate::scope::CATALOGUE_NAMES.join(", ")
    );
    for row in rows {
        for (kind, k) in [
            ("dedup", &row.measured.dedup),
            ("plain", &row.measured.plain),
        ] {
            println!(
                "{:>10} | {:<6} | five metrics {:>26} | every kind {:>26} | {:.2}× per run",
                row.size,
                kind,
                cell(&k.metrics),
                cell(&k.metrics_catalogue),
                k.metrics_catalogue.median_ratio(&k.metrics),
            );
        }
    }
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let growth = |f: fn(&Measured) -> f64| f(&b.measured) / f(&a.measured);
        println!(
            "growth {} → {} events ({:.1}× data): dedup metrics {:.1}×, plain metrics {:.1}×, floor {:.1}×",
            a.size,
            b.size,
            b.size as f64 / a.size as f64,
            growth(|m| m.dedup.metrics.median()),
            growth(|m| m.plain.metrics.median()),
            growth(|m| m.dedup.floor.median()),
        );
    }
}
