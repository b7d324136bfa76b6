//! The summary table and the growth between sizes.

use crate::load::LoadTimes;
use crate::measure::Measured;

/// The goal for lift's metrics query against the hand-written one.
const GOAL_RATIO: f64 = 1.3;

pub struct Row {
    pub size: u64,
    pub load: Option<LoadTimes>,
    pub measured: Measured,
    pub agree: bool,
}

fn millions(size: u64) -> f64 {
    size as f64 / 1e6
}

pub fn print(rows: &[Row]) {
    println!();
    println!("times in ms: median [min–max]; load = insert + OPTIMIZE FINAL (\"reused\": loaded by an earlier run)");
    println!(
        "{:>10} | {:>17} | {:>19} | {:>19} | {:>19} | {:>6} | {:>6} | {:>10} | {:>10} | {:>5}",
        "events",
        "load s",
        "exposures",
        "lift metrics",
        "hand-written",
        "ratio",
        "r/run",
        "lift ms/M",
        "hand ms/M",
        "same"
    );
    for row in rows {
        let m = &row.measured;
        let load = match &row.load {
            Some(t) => format!(
                "{:.1} + {:.1}",
                t.insert.as_secs_f64(),
                t.optimize.as_secs_f64()
            ),
            None => "reused".to_owned(),
        };
        let span = |s: &crate::measure::Samples| {
            format!("{:.0} [{:.0}–{:.0}]", s.median(), s.min(), s.max())
        };
        let ratio = m.lift.median() / m.hand.median();
        println!(
            "{:>10} | {:>17} | {:>19} | {:>19} | {:>19} | {:>5.2}× | {:>5.2}× | {:>10.0} | {:>10.0} | {:>5}",
            row.size,
            load,
            span(&m.exposures),
            span(&m.lift),
            span(&m.hand),
            ratio,
            m.lift.median_ratio(&m.hand),
            m.lift.median() / millions(row.size),
            m.hand.median() / millions(row.size),
            if row.agree { "yes" } else { "NO" }
        );
    }
    println!(
        "ratio = median lift / median hand-written; r/run = median over runs of lift / hand-written \
         in the same run; ms/M = median ms per million events"
    );
    for row in rows {
        if let Some((extra, same)) = &row.measured.extra {
            println!(
                "extra query at {} events: {:.0} ms [{:.0}–{:.0}], {:.2}× hand-written ({:.2}× per run), {}",
                row.size,
                extra.median(),
                extra.min(),
                extra.max(),
                extra.median() / row.measured.hand.median(),
                extra.median_ratio(&row.measured.hand),
                if *same { "same numbers as lift" } else { "DIFFERENT numbers from lift" }
            );
        }
    }
    for row in rows {
        let ratio = row.measured.lift.median() / row.measured.hand.median();
        if ratio > GOAL_RATIO {
            println!(
                "note: at {} events lift's metrics query takes {ratio:.2}× the hand-written one \
                 (goal ≤ {GOAL_RATIO}×)",
                row.size
            );
        }
    }
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let data = b.size as f64 / a.size as f64;
        let growth = |f: fn(&Measured) -> f64| f(&b.measured) / f(&a.measured);
        println!(
            "growth {} → {} events ({data:.1}× data): exposures {:.1}×, lift metrics {:.1}×, \
             hand-written {:.1}×",
            a.size,
            b.size,
            growth(|m| m.exposures.median()),
            growth(|m| m.lift.median()),
            growth(|m| m.hand.median())
        );
    }
}
