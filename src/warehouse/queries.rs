//! The questions lift asks a warehouse.

use crate::domain::preview::PreviewCounts;
use crate::domain::results::{ExposureCounts, MetricStats};
use crate::domain::DomainError;
use crate::sql::{self, PreviewScope, ResultsScope};

use super::rows::{CupedMetricRow, ExposureRow, MetricRow, PreviewRow, ProbeRow};
use super::Warehouse;

impl Warehouse {
    /// Identities per variant, and those left out.
    pub async fn exposures(&self, scope: &ResultsScope) -> Result<ExposureCounts, DomainError> {
        let compiled = sql::compile_exposures(scope).map_err(compile_error)?;
        let rows: Vec<ExposureRow> = self.fetch_all(&compiled, "exposures").await?;
        let mut counts = ExposureCounts::default();
        for row in rows {
            counts.multiple_exposures = row.multiple_exposures;
            counts.unknown_variant = row.unknown_variant;
            if !row.variant.is_empty() || row.identities > 0 {
                counts.identities.insert(row.variant, row.identities);
            }
        }
        Ok(counts)
    }

    /// Sufficient statistics of every metric of the scope, with CUPED's covariate sums when the
    /// scope asks for them, from one query (after reading which kind of table holds the events,
    /// see `events.rs`).
    pub async fn metric_stats(&self, scope: &ResultsScope) -> Result<MetricStats, DomainError> {
        if scope.metrics.is_empty() {
            return Ok(MetricStats::new());
        }
        let kind = self.events_table_kind().await?;
        let compiled = sql::compile_metrics(scope, kind).map_err(compile_error)?;
        // With CUPED the rows have three more columns (see `sql::compile_metrics`).
        Ok(if scope.cuped_lookback.is_some() {
            let rows: Vec<CupedMetricRow> = self.fetch_all(&compiled, "metrics").await?;
            rows.into_iter().map(CupedMetricRow::into_entry).collect()
        } else {
            let rows: Vec<MetricRow> = self.fetch_all(&compiled, "metrics").await?;
            rows.into_iter().map(MetricRow::into_entry).collect()
        })
    }

    /// What a metric definition would read over the scope's period, from one query (after
    /// reading which kind of table holds the events, as `metric_stats` does).
    pub async fn preview(&self, scope: &PreviewScope) -> Result<PreviewCounts, DomainError> {
        let kind = self.events_table_kind().await?;
        let compiled = sql::compile_preview(scope, kind).map_err(compile_error)?;
        let rows: Vec<PreviewRow> = self.fetch_all(&compiled, "preview").await?;
        rows.into_iter()
            .next()
            .map(PreviewRow::into_counts)
            .ok_or_else(|| DomainError::internal("the preview query returned no row"))
    }

    /// How many exposure events of `exposure_event` the environment has (a connection probe).
    pub async fn count_exposures(
        &self,
        environment_key: &str,
        exposure_event: &str,
    ) -> Result<u64, DomainError> {
        let compiled =
            sql::compile_exposure_probe(&self.events_table(), environment_key, exposure_event);
        let rows: Vec<ProbeRow> = self.fetch_all(&compiled, "probe").await?;
        Ok(rows.first().map_or(0, |r| r.exposures))
    }
}

fn compile_error(err: sql::CompileError) -> DomainError {
    match err {
        // The metric is fine, the warehouse is fine, but not together: say so to the caller.
        sql::CompileError::NotOnCluster { .. } => DomainError::Conflict(format!(
            "these results cannot be computed on the warehouse's cluster: {err}"
        )),
        // A metric the target cannot compute, not a bug: say so (CONFLICT names the clash).
        sql::CompileError::QuantileOnCluster => DomainError::Conflict(err.to_string()),
        err => {
            DomainError::Internal(anyhow::Error::new(err).context("compiling the results query"))
        }
    }
}
