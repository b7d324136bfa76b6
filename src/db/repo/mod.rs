//! Reads and writes, one file per aggregate. Every function takes `&impl ConnectionTrait`, so the
//! service layer decides what runs inside a transaction. Functions named `*_for_update` lock the row
//! (`SELECT … FOR UPDATE` on PostgreSQL; SQLite write transactions are already exclusive).

pub mod attachments;
pub mod audit;
pub mod experiments;
pub mod grants;
pub mod metric_versions;
pub mod metrics;
pub mod tenancy;
pub mod warehouse;

/// Ids bound in one `IN (…)`: far below SQLite's (32,766) and PostgreSQL's (65,535) limits on
/// parameters per statement, so a batch of any size is a few statements at most.
const IDS_PER_STATEMENT: usize = 500;

/// Runs `load` over `ids` in chunks of at most [`IDS_PER_STATEMENT`] and concatenates the rows.
async fn in_chunks<T, F, Fut>(ids: &[String], load: F) -> Result<Vec<T>, crate::domain::DomainError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, crate::domain::DomainError>>,
{
    let mut rows = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        rows.extend(load(chunk.to_vec()).await?);
    }
    Ok(rows)
}
