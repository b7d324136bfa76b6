//! Related rows read as one JSON column of their parent row: a page and what each of its items
//! holds come back in one statement (one round trip, one row per item) instead of a second
//! statement for the children. The JSON is built by the database from every column of the child
//! entity, keyed by column name; `convert` decodes it into the entity's own `Model` (which derives
//! `Deserialize` for this), so the children are converted like rows read directly.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ColumnType, DbBackend, EntityTrait, IdenStatic, Iterable};

/// A JSON object of every column of `E`'s row in scope of the statement, keyed by column name.
pub fn object<E: EntityTrait>(backend: DbBackend) -> SimpleExpr {
    let columns: Vec<E::Column> = E::Column::iter().collect();
    object_of(
        backend,
        columns.iter().map(|column| {
            let value = Expr::col((E::default(), *column));
            let is_json = matches!(
                column.def().get_column_type(),
                ColumnType::Json | ColumnType::JsonBinary
            );
            (column.as_str(), json_value(backend, value, is_json))
        }),
    )
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

/// A stored JSON column as a JSON value (SQLite keeps JSON as text, which would otherwise be
/// embedded as a string).
fn json_value(backend: DbBackend, value: SimpleExpr, is_json: bool) -> SimpleExpr {
    match (backend, is_json) {
        (DbBackend::Sqlite, true) => Expr::cust_with_exprs("json(?)", [value]),
        _ => value,
    }
}

/// The JSON array, as text, of `element` over the rows of the (sub)query it is selected in, in no
/// particular order (the reader sorts: an ordered aggregate costs a sort per parent row); `[]` when
/// there are none.
pub fn array(backend: DbBackend, element: SimpleExpr) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust_with_exprs("COALESCE(json_agg($1), '[]'::json)::text", [element])
        }
        _ => Expr::cust_with_exprs("json_group_array(?)", [element]),
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
