//! Relay connections (`edges { cursor node }`, `pageInfo`, `totalCount`) over keyset pages.
//! Cursors are opaque: base64 of a versioned prefix and the row id.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, OutputType, SimpleObject};
use base64::Engine;

use crate::db::page::{Page, PageRequest};
use crate::domain::DomainError;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;
const CURSOR_PREFIX: &str = "c1:";

#[derive(SimpleObject)]
pub struct TotalCount {
    /// How many items match, across all pages.
    pub total_count: u64,
}

pub type Conn<N> = Connection<String, N, TotalCount, EmptyFields>;

/// Items an unpaginated list is assumed to hold when its cost is estimated.
pub const UNPAGED_LIST_ESTIMATE: usize = 10;

/// Query complexity of a connection: 1, plus what is selected inside it once per item of the page
/// (`first`, default 20; out-of-range values cost as the nearest valid one and fail when resolved).
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE) as usize;
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// Query complexity of an unpaginated list: 1, plus what is selected inside it once per item of
/// [`UNPAGED_LIST_ESTIMATE`] items.
pub fn list_cost(child_complexity: usize) -> usize {
    UNPAGED_LIST_ESTIMATE
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// Checks `first` (1..=100, default 20) and decodes `after`; counts only when `totalCount` is
/// among the selected fields of the connection being resolved.
pub fn page_request(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PageRequest, DomainError> {
    let with_total = ctx.look_ahead().field("totalCount").exists();
    parse_page_request(first, after, with_total)
}

fn parse_page_request(
    first: Option<i32>,
    after: Option<String>,
    with_total: bool,
) -> Result<PageRequest, DomainError> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(DomainError::validation(
            "first",
            format!("first must be between 1 and {MAX_PAGE_SIZE} (got {first})"),
        ));
    }
    let after = after.map(|cursor| decode_cursor(&cursor)).transpose()?;
    Ok(PageRequest {
        first: first as u64,
        after,
        with_total,
    })
}

pub fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<String, DomainError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX).map(str::to_owned))
        .ok_or_else(|| {
            DomainError::validation("after", "after is not a cursor returned by this API")
        })
}

/// Wraps a page; `id` names each item's id (the cursor), `node` builds its output object.
pub fn connection<T, N: OutputType>(
    page: Page<T>,
    id: impl Fn(&T) -> &str,
    node: impl FnMut(T) -> N,
) -> Conn<N> {
    connection_by(page, |item| encode_cursor(id(item)), node)
}

/// Like `connection`, with `cursor` computing each item's (already encoded) cursor.
pub fn connection_by<T, N: OutputType>(
    page: Page<T>,
    cursor: impl Fn(&T) -> String,
    mut node: impl FnMut(T) -> N,
) -> Conn<N> {
    let mut conn = Connection::with_additional_fields(
        false,
        page.has_next_page,
        TotalCount {
            // Only `None` when `totalCount` was not selected, so the value is never seen.
            total_count: page.total_count.unwrap_or_default(),
        },
    );
    conn.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(cursor(&item), node(item))),
    );
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_costs_its_children_once_per_item() {
        assert_eq!(page_cost(Some(10), 7), 71);
        assert_eq!(page_cost(None, 7), 141);
        assert_eq!(page_cost(Some(-5), 7), 8);
        assert_eq!(page_cost(Some(i32::MAX), 7), 701);
        assert_eq!(page_cost(Some(100), usize::MAX), usize::MAX);
        assert_eq!(list_cost(3), 31);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let req =
            parse_page_request(Some(5), Some(encode_cursor("0192-abc")), true).expect("valid");
        assert_eq!(req.after.as_deref(), Some("0192-abc"));
        assert!(parse_page_request(None, Some("not a cursor".into()), true).is_err());
        assert!(parse_page_request(Some(0), None, true).is_err());
        assert!(parse_page_request(Some(101), None, true).is_err());
        assert_eq!(
            parse_page_request(None, None, true).map(|r| r.first).ok(),
            Some(20)
        );
    }
}
