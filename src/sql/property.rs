//! Reading one property of an event's `metadata` (a JSON object) by a bound key.
//!
//! Types are read strictly, whatever the server version's JSON coercions: a *string* property is
//! a JSON string, a *boolean* the literal `true`/`false`, and a *number* a JSON number or a JSON
//! string holding a number (`"12.5"`), as SDKs often send amounts as text. Anything else, or a
//! missing key or malformed JSON, reads as absent: no string, no boolean, `NULL` number. Keys are
//! top-level names; nested paths are not supported.

/// `e.metadata` has the key (with any value, `null` included).
pub(super) fn has(key: &str) -> String {
    format!("JSONHas(e.metadata, {key})")
}

/// The property is a JSON string equal to / satisfying `predicate` applied to its text.
pub(super) fn string_where(key: &str, predicate: impl FnOnce(&str) -> String) -> String {
    let text = format!("JSONExtractString(e.metadata, {key})");
    format!(
        "(JSONType(e.metadata, {key}) = 'String' AND {})",
        predicate(&text)
    )
}

/// The property is the JSON literal `true` (or `false`).
pub(super) fn is_bool(key: &str, value: bool) -> String {
    let literal = if value { "'true'" } else { "'false'" };
    format!("JSONExtractRaw(e.metadata, {key}) = {literal}")
}

/// `Nullable(Float64)`: the property as a number, `NULL` when it is not one.
pub(super) fn number(key: &str) -> String {
    format!("toFloat64OrNull(trim(BOTH '\"' FROM JSONExtractRaw(e.metadata, {key})))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_read_only_from_json_strings() {
        assert_eq!(
            string_where("{p0:String}", |text| format!("{text} = {{p1:String}}")),
            "(JSONType(e.metadata, {p0:String}) = 'String' \
             AND JSONExtractString(e.metadata, {p0:String}) = {p1:String})"
        );
    }

    #[test]
    fn numbers_accept_json_numbers_and_numeric_strings() {
        assert_eq!(
            number("{p0:String}"),
            "toFloat64OrNull(trim(BOTH '\"' FROM JSONExtractRaw(e.metadata, {p0:String})))"
        );
    }
}
