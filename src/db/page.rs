//! Keyset pagination. Ids are UUIDv7 strings, so ordering by id descending is newest first and a
//! cursor is just the last id seen: pages stay stable while rows are inserted.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::domain::DomainError;

/// A page request, already checked at the boundary (`first` in 1..=100).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub first: u64,
    /// The id of the last row of the previous page.
    pub after: Option<String>,
    /// Whether to count all matching rows (skipped when the client did not ask for `totalCount`).
    pub with_total: bool,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    /// `None` when the request did not ask for it.
    pub total_count: Option<u64>,
}

impl PageRequest {
    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn overfetch(&self) -> u64 {
        self.first + 1
    }
}

impl<T> Page<T> {
    /// A page from rows fetched with `request.overfetch()`.
    pub fn from_overfetched(
        mut items: Vec<T>,
        request: &PageRequest,
        total_count: Option<u64>,
    ) -> Self {
        let has_next_page = items.len() as u64 > request.first;
        items.truncate(request.first as usize);
        Page {
            items,
            has_next_page,
            total_count,
        }
    }

    pub fn try_map<U>(
        self,
        f: impl FnMut(T) -> Result<U, DomainError>,
    ) -> Result<Page<U>, DomainError> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            has_next_page: self.has_next_page,
            total_count: self.total_count,
        })
    }
}

/// Runs `select` as one page ordered by `id` descending, plus (when asked) a count of all matching rows.
pub async fn fetch<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: C,
    request: &PageRequest,
) -> Result<Page<E::Model>, DomainError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ColumnTrait,
{
    let total_count = match request.with_total {
        true => Some(select.clone().count(db).await?),
        false => None,
    };
    let mut page = select;
    if let Some(after) = &request.after {
        page = page.filter(id.lt(after.clone()));
    }
    let items = page
        .order_by_desc(id)
        .limit(request.overfetch())
        .all(db)
        .await?;
    Ok(Page::from_overfetched(items, request, total_count))
}

/// The audit sequence an `after` cursor of the audit list names (client input, so a bad one is
/// `BAD_USER_INPUT`).
pub fn sequence_cursor(after: &str) -> Result<i64, DomainError> {
    after
        .parse()
        .map_err(|_| DomainError::validation("after", "after is not a cursor of this list"))
}
