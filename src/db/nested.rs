//! Rows read as JSON built by the database: a page of rows, with what each of them holds, comes
//! back as one value of one row (one round trip) instead of a row per item and a statement for
//! the children. Each object holds every column of its entity, keyed by column name; `convert`
//! decodes it into the entity's own `Model` (which derives `Deserialize` for this), so the rows
//! are converted like rows read directly. (The driver copies every value of every row it hands
//! over, and hands rows over one by one between threads: one value costs far less.)

use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ColumnType, DbBackend, EntityTrait, IdenStatic, Iterable};

/// A JSON object of every column of `E`'s row in scope of the statement, keyed by column name,
/// stored JSON embedded as JSON.
pub fn object<E: EntityTrait>(backend: DbBackend) -> SimpleExpr {
    object_of(backend, columns::<E>(backend, StoredJson::AsJson))
}

/// How a stored JSON column goes into a JSON object.
#[derive(Clone, Copy)]
pub enum StoredJson {
    /// As the JSON value it holds.
    AsJson,
    /// As its text (a JSON string): the reader parses it straight into its type, where a JSON
    /// value would be parsed twice (by the database, to embed it, and into a `serde_json::Value`).
    AsText,
}

/// Every column of `E`'s row in scope of the statement, keyed by column name, for [`object_of`].
pub fn columns<E: EntityTrait>(
    backend: DbBackend,
    json: StoredJson,
) -> Vec<(&'static str, SimpleExpr)> {
    E::Column::iter()
        .map(|column| {
            let value = Expr::col((E::default(), column));
            let is_json = matches!(
                column.def().get_column_type(),
                ColumnType::Json | ColumnType::JsonBinary
            );
            let value = match (is_json, json) {
                (false, _) => value,
                (true, StoredJson::AsText) => as_text(backend, value),
                // SQLite keeps JSON as text, which would otherwise be embedded as a string.
                (true, StoredJson::AsJson) => match backend {
                    DbBackend::Postgres => value,
                    _ => Expr::cust_with_exprs("json(?)", [value]),
                },
            };
            (column.as_str(), value)
        })
        .collect()
}

/// A JSON object of `(key, value)` pairs. Keys are identifiers of this crate (column names and
/// fixed names), never input: they are written into the statement, the values are expressions.
pub fn object_of(
    backend: DbBackend,
    entries: impl IntoIterator<Item = (&'static str, SimpleExpr)>,
) -> SimpleExpr {
    let mut template = String::from(match backend {
        DbBackend::Postgres => "json_build_object(",
        _ => "json_object(",
    });
    let mut values = Vec::new();
    for (key, value) in entries {
        assert!(
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "a JSON key written into SQL must be a plain identifier: {key:?}"
        );
        if !values.is_empty() {
            template.push_str(", ");
        }
        values.push(value);
        template.push_str(&format!("'{key}', {}", slot(backend, values.len())));
    }
    template.push(')');
    Expr::cust_with_exprs(template, values)
}

/// The JSON array of `element` over the rows of the (sub)query it is selected in, in no particular
/// order (the reader sorts: an ordered aggregate costs a sort per parent row); `[]` when there are
/// none.
pub fn array(backend: DbBackend, element: SimpleExpr) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust_with_exprs("COALESCE(json_agg($1), '[]'::json)", [element])
        }
        _ => Expr::cust_with_exprs("json_group_array(?)", [element]),
    }
}

/// An empty JSON array, as [`array`] makes it from no rows.
pub fn empty_array(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust("'[]'::json"),
        _ => Expr::cust("json_array()"),
    }
}

/// A JSON value as its text, to read as a string.
pub fn as_text(backend: DbBackend, json: SimpleExpr) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_exprs("($1)::text", [json]),
        _ => json,
    }
}

/// `expr` as SQL text, for an expression that binds no value: built once, it is reused by every
/// statement (`Expr::cust`) instead of being built and rendered for each.
pub fn rendered(backend: DbBackend, expr: SimpleExpr) -> String {
    let statement = backend.build(Query::select().expr(expr));
    assert!(
        statement.values.is_none_or(|values| values.0.is_empty()),
        "a rendered expression binds no value: {}",
        statement.sql
    );
    match statement.sql.strip_prefix("SELECT ") {
        Some(sql) => sql.to_owned(),
        None => unreachable!("a select renders as SELECT …: {}", statement.sql),
    }
}

/// Where the `n`th (from 1) expression of a custom SQL template goes: sea-query numbers them for
/// PostgreSQL and takes them in order for SQLite.
fn slot(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}
