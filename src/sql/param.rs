//! Server-side query parameters: the only way a value reaches ClickHouse.
//!
//! [`Params`] hands out placeholders (`{p0:String}`, `{p1:Array(String)}`, …) and records the value
//! under the name `p0`, `p1`, … (without ClickHouse's `param_` prefix). The SQL text contains only
//! the placeholder; the value is sent beside the query and ClickHouse parses it as the declared
//! type, so no value can change the query's structure.
//!
//! # How a value is sent
//! ClickHouse reads a parameter's text in the *escaped* (TSV) format of its type:
//! - `String`: the text with `\`, `'`, `` ` ``, tab and newline preceded by a backslash (raw text is
//!   not enough: `a\b` would arrive as `a` + backspace, a tab would fail to parse);
//! - `Identifier` (database and table names): read **raw**, without unescaping; the compiler only
//!   accepts names that need no escaping (see [`CompileError::UnsupportedIdentifier`]), so both
//!   readings agree;
//! - `Float64`, `Int64`: Rust's `Display` (shortest text that round-trips, no exponent);
//! - `Array(String)`: `['a','b\'c']`, each item quoted and escaped as above, no spaces;
//! - `Array(Float64)`: `[1.5,2]`;
//! - `DateTime64(3, 'UTC')`: `YYYY-MM-DD hh:mm:ss.fff` in UTC.
//!
//! [`ParamValue::to_clickhouse_text`] returns exactly that text, which is also what the
//! `clickhouse` crate (0.15) writes for `Query::param(name, &value)` through this type's `Serialize`
//! impl, so a runner may use either `.param(name, &value)` or
//! `.with_setting(format!("param_{name}"), value.to_clickhouse_text())`, never both.
//!
//! [`CompileError::UnsupportedIdentifier`]: super::CompileError::UnsupportedIdentifier

use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// A parameter's value, typed as the placeholder that refers to it declares.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Also used for `Identifier` placeholders.
    String(String),
    Float64(f64),
    Int64(i64),
    StringArray(Vec<String>),
    Float64Array(Vec<f64>),
    DateTime64(DateTime<Utc>),
}

/// The `DateTime64(3, 'UTC')` text format.
const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

impl ParamValue {
    /// The text to send as the value of `param_<name>` (see the module doc).
    pub fn to_clickhouse_text(&self) -> String {
        match self {
            ParamValue::String(s) => escaped(s),
            ParamValue::Float64(x) => x.to_string(),
            ParamValue::Int64(i) => i.to_string(),
            ParamValue::StringArray(items) => {
                let quoted: Vec<String> =
                    items.iter().map(|s| format!("'{}'", escaped(s))).collect();
                format!("[{}]", quoted.join(","))
            }
            ParamValue::Float64Array(items) => {
                let numbers: Vec<String> = items.iter().map(f64::to_string).collect();
                format!("[{}]", numbers.join(","))
            }
            ParamValue::DateTime64(at) => at.format(DATETIME_FORMAT).to_string(),
        }
    }
}

/// Backslash before every character ClickHouse's escaped format (or a quoted literal) treats
/// specially; the same set the `clickhouse` crate escapes.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '\'' | '`' | '\t' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Serializes as the plain value (strings, numbers, sequences; times as their text), so a client
/// that escapes values itself produces [`ParamValue::to_clickhouse_text`].
impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamValue::String(s) => serializer.serialize_str(s),
            ParamValue::Float64(x) => serializer.serialize_f64(*x),
            ParamValue::Int64(i) => serializer.serialize_i64(*i),
            ParamValue::StringArray(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            ParamValue::Float64Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            ParamValue::DateTime64(at) => {
                serializer.serialize_str(&at.format(DATETIME_FORMAT).to_string())
            }
        }
    }
}

/// Collects parameters while SQL is written; each method returns the placeholder to splice.
#[derive(Debug, Default)]
pub struct Params {
    values: Vec<(String, ParamValue)>,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Goes on numbering after the parameters of an already compiled query.
    pub fn continuing(values: Vec<(String, ParamValue)>) -> Self {
        Params { values }
    }

    pub fn string(&mut self, value: &str) -> String {
        self.bind("String", ParamValue::String(value.to_owned()))
    }

    /// A database or table name; callers check it first (see the module doc).
    pub fn identifier(&mut self, value: &str) -> String {
        self.bind("Identifier", ParamValue::String(value.to_owned()))
    }

    pub fn float(&mut self, value: f64) -> String {
        self.bind("Float64", ParamValue::Float64(value))
    }

    pub fn int(&mut self, value: i64) -> String {
        self.bind("Int64", ParamValue::Int64(value))
    }

    pub fn strings(&mut self, values: &[String]) -> String {
        self.bind("Array(String)", ParamValue::StringArray(values.to_vec()))
    }

    pub fn floats(&mut self, values: &[f64]) -> String {
        self.bind("Array(Float64)", ParamValue::Float64Array(values.to_vec()))
    }

    pub fn datetime(&mut self, value: DateTime<Utc>) -> String {
        self.bind("DateTime64(3, 'UTC')", ParamValue::DateTime64(value))
    }

    /// The parameters in the order they were bound, named `p0`, `p1`, ….
    pub fn into_vec(self) -> Vec<(String, ParamValue)> {
        self.values
    }

    fn bind(&mut self, sql_type: &str, value: ParamValue) -> String {
        let name = format!("p{}", self.values.len());
        let placeholder = format!("{{{name}:{sql_type}}}");
        self.values.push((name, value));
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn placeholders_are_numbered_in_binding_order_and_carry_their_type() {
        let mut params = Params::new();
        assert_eq!(params.identifier("events"), "{p0:Identifier}");
        assert_eq!(params.string("prod"), "{p1:String}");
        assert_eq!(params.strings(&["a".into()]), "{p2:Array(String)}");
        assert_eq!(params.floats(&[1.0]), "{p3:Array(Float64)}");
        assert_eq!(params.float(2.5), "{p4:Float64}");
        assert_eq!(params.int(-3), "{p5:Int64}");
        let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(params.datetime(at), "{p6:DateTime64(3, 'UTC')}");
        let names: Vec<String> = params.into_vec().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    }

    #[test]
    fn strings_are_sent_in_the_escaped_format_clickhouse_reads() {
        let text = ParamValue::String("it's a\\b\t`x`\nend".into()).to_clickhouse_text();
        assert_eq!(text, "it\\'s a\\\\b\\\t\\`x\\`\\\nend");
        assert_eq!(
            ParamValue::String("{p0:String}".into()).to_clickhouse_text(),
            "{p0:String}"
        );
    }

    #[test]
    fn arrays_are_bracketed_lists_of_quoted_escaped_items() {
        let strings = ParamValue::StringArray(vec!["a'b".into(), "c\\d".into(), String::new()]);
        assert_eq!(strings.to_clickhouse_text(), r"['a\'b','c\\d','']");
        let numbers = ParamValue::Float64Array(vec![1.5, 2.0, -0.1]);
        assert_eq!(numbers.to_clickhouse_text(), "[1.5,2,-0.1]");
    }

    #[test]
    fn numbers_use_the_shortest_round_trip_text_and_times_are_utc_milliseconds() {
        assert_eq!(ParamValue::Float64(0.1).to_clickhouse_text(), "0.1");
        assert_eq!(ParamValue::Int64(-42).to_clickhouse_text(), "-42");
        let at =
            Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(7);
        assert_eq!(
            ParamValue::DateTime64(at).to_clickhouse_text(),
            "2024-01-02 03:04:05.007"
        );
    }

    #[test]
    fn values_serialize_as_plain_data() {
        let json = |v: ParamValue| serde_json::to_string(&v).unwrap();
        assert_eq!(json(ParamValue::String("x".into())), "\"x\"");
        assert_eq!(json(ParamValue::StringArray(vec!["a".into()])), "[\"a\"]");
        assert_eq!(json(ParamValue::Float64Array(vec![1.5])), "[1.5]");
        let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            json(ParamValue::DateTime64(at)),
            "\"2024-01-02 03:04:05.000\""
        );
    }
}
