//! Keyset pagination. Ids are UUIDv7 strings, so ordering by id descending is newest first and a
//! cursor is just the last id seen: pages stay stable while rows are inserted.

use sea_orm::sea_query::{Expr, Query, QueryStatementBuilder, SelectStatement, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
};

use crate::db::nested;
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

/// Runs `select` as one page ordered by `id` descending. When asked, the count of all matching
/// rows comes in the same statement (a scalar subquery on every row): one round trip instead of
/// two, and the count and the page read the same snapshot. Only a page past the last row (no
/// row to carry the count) takes a second statement for it.
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
    fetch_with(db, select, id, request, |row| {
        Ok(E::Model::from_query_result(row, "")?)
    })
    .await
}

/// [`fetch`] for a `select` with more columns than its entity's (`QuerySelect::expr_as`), each
/// row read by `read`. The extra columns are left out of the count.
pub async fn fetch_with<E, C, T>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: C,
    request: &PageRequest,
    read: impl Fn(&QueryResult) -> Result<T, DomainError>,
) -> Result<Page<T>, DomainError>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ColumnTrait,
{
    let mut page = newest_first(select.clone(), id, request);
    if request.with_total {
        let count = count_of(select.clone()).into_sub_query_statement();
        page.expr_as(Expr::SubQuery(None, Box::new(count)), TOTAL);
    }
    let rows = db
        .query_all_raw(db.get_database_backend().build(&page))
        .await?;
    let total_count = match (request.with_total, rows.first()) {
        (false, _) => None,
        (true, Some(row)) => Some(row.try_get::<i64>("", TOTAL)?.max(0) as u64),
        (true, None) if request.after.is_none() => Some(0),
        (true, None) => Some(select.count(db).await?),
    };
    let items = rows.iter().map(read).collect::<Result<_, _>>()?;
    Ok(Page::from_overfetched(items, request, total_count))
}

/// [`fetch`] with the page read as one JSON array: `element` is each row's JSON (an expression over
/// the page's rows, which it names by `E`'s table), `read` decodes the array and `id` gives each
/// decoded item's id. One row and one value come back, whatever the page size, and with the
/// count (when asked) beside it even past the last row.
pub async fn fetch_json<E, C, T>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: C,
    request: &PageRequest,
    element: SimpleExpr,
    read: impl Fn(&str) -> Result<Vec<T>, DomainError>,
    id_of: impl Fn(&T) -> &str,
) -> Result<Page<T>, DomainError>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let backend = db.get_database_backend();
    let rows = newest_first(select.clone(), id, request);
    // The page's rows under the table's own name, so that `element` reads them as it would the
    // table.
    let mut page = Query::select();
    let items = nested::as_text(backend, nested::array(backend, element));
    page.expr_as(items, ITEMS).from_subquery(rows, E::default());
    if request.with_total {
        let count = count_of(select).into_sub_query_statement();
        page.expr_as(Expr::SubQuery(None, Box::new(count)), TOTAL);
    }
    let row = db
        .query_one_raw(backend.build(&page))
        .await?
        .ok_or_else(|| DomainError::internal("a page read as JSON returned no row"))?;
    let total_count = match request.with_total {
        true => Some(row.try_get::<i64>("", TOTAL)?.max(0) as u64),
        false => None,
    };
    let mut items = read(&row.try_get::<String>("", ITEMS)?)?;
    // An aggregate keeps no order: newest first again.
    items.sort_unstable_by(|a, b| id_of(b).cmp(id_of(a)));
    Ok(Page::from_overfetched(items, request, total_count))
}

/// The rows of `select` a page reads: after the cursor, newest first, one more than the page
/// holds (so that `has_next_page` needs no second statement).
fn newest_first<E: EntityTrait, C: ColumnTrait>(
    select: Select<E>,
    id: C,
    request: &PageRequest,
) -> SelectStatement {
    let select = match &request.after {
        Some(after) => select.filter(id.lt(after.clone())),
        None => select,
    };
    select
        .order_by_desc(id)
        .limit(request.overfetch())
        .into_query()
}

/// The column that carries a page read as JSON.
const ITEMS: &str = "lift_page_items";

/// The column that carries the count of all matching rows beside each row of a page.
const TOTAL: &str = "lift_page_total";

/// `SELECT COUNT(*)` over the rows `select` matches.
fn count_of<E: EntityTrait>(select: Select<E>) -> SelectStatement {
    let mut query = select.into_query();
    query.clear_selects().expr(Expr::cust("COUNT(*)"));
    query
}

/// The audit sequence an `after` cursor of the audit list names (client input, so a bad one is
/// `BAD_USER_INPUT`).
pub fn sequence_cursor(after: &str) -> Result<i64, DomainError> {
    after
        .parse()
        .map_err(|_| DomainError::validation("after", "after is not a cursor of this list"))
}
