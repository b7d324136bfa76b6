//! The compiler's output and the one way its SQL is assembled: named CTEs, then a final `SELECT`.

use super::param::{ParamValue, Params};

/// SQL text with `{pN:Type}` placeholders, and the values to send for them.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    pub sql: String,
    /// `(name, value)` with names as in the SQL (`p0`, not `param_p0`).
    pub params: Vec<(String, ParamValue)>,
}

/// A named common table expression; `body` is a `SELECT` written at column 0.
pub(super) struct Cte {
    pub name: &'static str,
    pub body: String,
}

/// `WITH name AS (…), … <select>`, each CTE body indented by four spaces.
pub(super) fn assemble(ctes: &[Cte], select: &str, params: Params) -> CompiledQuery {
    let mut sql = String::new();
    if !ctes.is_empty() {
        sql.push_str("WITH\n");
        for (i, cte) in ctes.iter().enumerate() {
            sql.push_str(cte.name);
            sql.push_str(" AS (\n");
            sql.push_str(&indent(&cte.body));
            sql.push_str(if i + 1 < ctes.len() { "),\n" } else { ")\n" });
        }
    }
    sql.push_str(select.trim_end());
    sql.push('\n');
    CompiledQuery {
        sql,
        params: params.into_vec(),
    }
}

/// Indents every non-empty line by four spaces.
pub(super) fn indent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.trim_end().lines() {
        if !line.is_empty() {
            out.push_str("    ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_are_listed_in_order_before_the_final_select() {
        let ctes = [
            Cte {
                name: "a",
                body: "SELECT 1 AS x\n".into(),
            },
            Cte {
                name: "b",
                body: "SELECT x\nFROM a".into(),
            },
        ];
        let query = assemble(&ctes, "SELECT x FROM b", Params::new());
        assert_eq!(
            query.sql,
            "WITH\na AS (\n    SELECT 1 AS x\n),\nb AS (\n    SELECT x\n    FROM a\n)\nSELECT x FROM b\n"
        );
    }
}
