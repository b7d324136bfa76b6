//! A metric's property filters as SQL predicates over `e.metadata`.
//!
//! Every predicate is `0`/`1`, never `NULL`, so negations behave: an event whose property is
//! missing or of another type does not satisfy EQ, IN, GT…, CONTAINS, and therefore does satisfy
//! NEQ and NOT_IN. Comparisons with a number read the property as a number (see
//! [`super::property`]); with a string, only JSON strings match; with a boolean, only JSON
//! booleans. EXISTS is true for any value, `null` included.

use super::param::Params;
use super::property;
use crate::domain::metric::{FilterOp, FilterValue, PropertyFilter};

/// The filter's predicate, or why its value does not fit its operator (the domain refuses such
/// filters, so this is only reached by data that bypassed it).
pub(super) fn predicate(filter: &PropertyFilter, params: &mut Params) -> Result<String, String> {
    use FilterOp::*;
    use FilterValue as V;
    let key = params.string(&filter.property);
    let sql = match (filter.op, &filter.value) {
        (Exists, None) => property::has(&key),
        (NotExists, None) => format!("NOT {}", property::has(&key)),
        (Eq, Some(value)) => equals(&key, value, params)?,
        (Neq, Some(value)) => format!("NOT {}", equals(&key, value, params)?),
        (In, Some(values)) => one_of(&key, values, params)?,
        (NotIn, Some(values)) => format!("NOT {}", one_of(&key, values, params)?),
        (Gt | Gte | Lt | Lte, Some(V::Number(n))) => {
            let op = match filter.op {
                Gt => ">",
                Gte => ">=",
                Lt => "<",
                _ => "<=",
            };
            let n = params.float(*n);
            format!("ifNull({} {op} {n}, 0)", property::number(&key))
        }
        (Contains, Some(V::String(needle))) => {
            let needle = params.string(needle);
            property::string_where(&key, |text| format!("position({text}, {needle}) > 0"))
        }
        (op, value) => return Err(format!("operator {op} does not take {value:?}")),
    };
    Ok(sql)
}

fn equals(key: &str, value: &FilterValue, params: &mut Params) -> Result<String, String> {
    Ok(match value {
        FilterValue::String(s) => {
            let s = params.string(s);
            property::string_where(key, |text| format!("{text} = {s}"))
        }
        FilterValue::Number(n) => {
            let n = params.float(*n);
            format!("ifNull({} = {n}, 0)", property::number(key))
        }
        FilterValue::Boolean(b) => format!("({})", property::is_bool(key, *b)),
        list => return Err(format!("EQ and NEQ take one value, not {list:?}")),
    })
}

fn one_of(key: &str, values: &FilterValue, params: &mut Params) -> Result<String, String> {
    Ok(match values {
        FilterValue::StringList(items) => {
            let items = params.strings(items);
            property::string_where(key, |text| format!("has({items}, {text})"))
        }
        FilterValue::NumberList(items) => {
            let items = params.floats(items);
            format!("has({items}, {})", property::number(key))
        }
        single => return Err(format!("IN and NOT_IN take a list, not {single:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilterValue as V;

    fn compile(op: FilterOp, value: Option<FilterValue>) -> (String, Vec<String>) {
        let mut params = Params::new();
        let filter = PropertyFilter {
            property: "plan".into(),
            op,
            value,
        };
        let sql = predicate(&filter, &mut params).expect("a valid filter");
        let texts = params
            .into_vec()
            .into_iter()
            .map(|(_, v)| v.to_clickhouse_text())
            .collect();
        (sql, texts)
    }

    const NUMBER: &str =
        "toFloat64OrNull(trim(BOTH '\"' FROM JSONExtractRaw(e.metadata, {p0:String})))";
    const IS_STRING: &str = "JSONType(e.metadata, {p0:String}) = 'String'";
    const TEXT: &str = "JSONExtractString(e.metadata, {p0:String})";

    #[test]
    fn string_equality_matches_json_strings_only_and_neq_negates_it() {
        let (eq, params) = compile(FilterOp::Eq, Some(V::String("pro".into())));
        assert_eq!(eq, format!("({IS_STRING} AND {TEXT} = {{p1:String}})"));
        assert_eq!(params, ["plan", "pro"]);
        let (neq, _) = compile(FilterOp::Neq, Some(V::String("pro".into())));
        assert_eq!(neq, format!("NOT {eq}"));
    }

    #[test]
    fn numeric_comparisons_never_yield_null() {
        let (eq, params) = compile(FilterOp::Eq, Some(V::Number(3.0)));
        assert_eq!(eq, format!("ifNull({NUMBER} = {{p1:Float64}}, 0)"));
        assert_eq!(params, ["plan", "3"]);
        for (op, sign) in [
            (FilterOp::Gt, ">"),
            (FilterOp::Gte, ">="),
            (FilterOp::Lt, "<"),
            (FilterOp::Lte, "<="),
        ] {
            let (sql, _) = compile(op, Some(V::Number(1.5)));
            assert_eq!(sql, format!("ifNull({NUMBER} {sign} {{p1:Float64}}, 0)"));
        }
    }

    #[test]
    fn booleans_compare_the_json_literal() {
        let (sql, params) = compile(FilterOp::Eq, Some(V::Boolean(true)));
        assert_eq!(sql, "(JSONExtractRaw(e.metadata, {p0:String}) = 'true')");
        assert_eq!(params, ["plan"]);
        let (sql, _) = compile(FilterOp::Neq, Some(V::Boolean(false)));
        assert_eq!(
            sql,
            "NOT (JSONExtractRaw(e.metadata, {p0:String}) = 'false')"
        );
    }

    #[test]
    fn lists_are_one_array_parameter() {
        let (sql, params) = compile(
            FilterOp::In,
            Some(V::StringList(vec!["a".into(), "b'".into()])),
        );
        assert_eq!(
            sql,
            format!("({IS_STRING} AND has({{p1:Array(String)}}, {TEXT}))")
        );
        assert_eq!(params, ["plan", r"['a','b\'']"]);
        let (sql, params) = compile(FilterOp::NotIn, Some(V::NumberList(vec![1.0, 2.5])));
        assert_eq!(sql, format!("NOT has({{p1:Array(Float64)}}, {NUMBER})"));
        assert_eq!(params, ["plan", "[1,2.5]"]);
    }

    #[test]
    fn contains_searches_string_properties_and_exists_checks_the_key() {
        let (sql, _) = compile(FilterOp::Contains, Some(V::String("sale".into())));
        assert_eq!(
            sql,
            format!("({IS_STRING} AND position({TEXT}, {{p1:String}}) > 0)")
        );
        assert_eq!(
            compile(FilterOp::Exists, None).0,
            "JSONHas(e.metadata, {p0:String})"
        );
        assert_eq!(
            compile(FilterOp::NotExists, None).0,
            "NOT JSONHas(e.metadata, {p0:String})"
        );
    }

    #[test]
    fn a_value_that_does_not_fit_its_operator_is_an_error() {
        let mut params = Params::new();
        for (op, value) in [
            (FilterOp::Exists, Some(V::Boolean(true))),
            (FilterOp::Eq, None),
            (FilterOp::Eq, Some(V::StringList(vec![]))),
            (FilterOp::In, Some(V::String("a".into()))),
            (FilterOp::Gt, Some(V::String("1".into()))),
            (FilterOp::Contains, Some(V::Number(1.0))),
        ] {
            let filter = PropertyFilter {
                property: "plan".into(),
                op,
                value,
            };
            assert!(predicate(&filter, &mut params).is_err(), "{filter:?}");
        }
    }
}
