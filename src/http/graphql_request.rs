//! What a GraphQL-over-HTTP request asks for, read as the GraphQL over HTTP specification says:
//! the media type of the answer (`Accept`), the parameters of a POST body or a GET query string,
//! and the kind of operation a GET would run. Everything here is pure; `graphql.rs` does the IO.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use serde_json::{Map, Value};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes say whether the request was executed.
    GraphQLResponseJson,
    /// `application/json`, the legacy type: every GraphQL response is `200 OK`.
    Json,
}

impl MediaType {
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// The response media type for an `Accept` header: the acceptable one with the highest `q`, the
/// more specific on a tie. No header means `application/json`; `None` means nothing we can send
/// is acceptable (`406`).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, u8, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut q, mut utf8) = (1.0_f32, true);
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "q" => q = value.parse().unwrap_or(0.0),
                "charset" => {
                    utf8 = value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
                }
                _ => {}
            }
        }
        let (specificity, media_type) = match media.as_str() {
            "application/graphql-response+json" => (2, MediaType::GraphQLResponseJson),
            "application/json" => (1, MediaType::Json),
            "application/*" | "*/*" => (0, MediaType::Json),
            _ => continue,
        };
        if q <= 0.0 || !utf8 {
            continue;
        }
        if best.is_none_or(|(bq, bs, _)| q > bq || (q == bq && specificity > bs)) {
            best = Some((q, specificity, media_type));
        }
    }
    best.map(|(_, _, media_type)| media_type)
}

/// Whether a GET without a query may be answered with a page (GraphiQL): its `Accept` allows
/// HTML (`text/html`, `text/*`, `*/*` or no header). A client that accepts only GraphQL
/// responses gets `400` for the missing query instead.
pub fn accepts_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return true;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|param| {
            param.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "q" && v.trim().parse::<f32>().unwrap_or(0.0) <= 0.0
            })
        });
        !refused && ["text/html", "text/*", "*/*"].contains(&media.as_str())
    })
}

/// Whether a POST's `Content-Type` is JSON in UTF-8 (the only body lift reads).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|param| match param.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("charset") => {
                let value = value.trim().trim_matches('"');
                value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
            }
            _ => true,
        })
}

/// A request that is not well-formed: answered `400` with this message, never executed.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// The parameters of a POST body.
pub fn from_body(body: &[u8]) -> Result<async_graphql::Request, Malformed> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| Malformed(format!("the request body is not valid JSON: {err}")))?;
    match value {
        Value::Object(params) => from_params(params),
        Value::Array(_) => Err(Malformed(
            "batched requests are not supported: send one operation per request".into(),
        )),
        _ => Err(Malformed(
            "the request body must be a JSON object with a `query`".into(),
        )),
    }
}

/// The parameters of a GET query string (`variables` and `extensions` are JSON texts).
pub fn from_query_string(
    pairs: HashMap<String, String>,
) -> Result<async_graphql::Request, Malformed> {
    let mut params = Map::new();
    for (key, text) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => serde_json::from_str(&text).map_err(|err| {
                Malformed(format!("the `{key}` parameter is not valid JSON: {err}"))
            })?,
            _ => Value::String(text),
        };
        params.insert(key, value);
    }
    from_params(params)
}

/// Checks each parameter's type (`query` a string; `operationName` a string or null; `variables`
/// and `extensions` objects or null); other keys are ignored.
fn from_params(params: Map<String, Value>) -> Result<async_graphql::Request, Malformed> {
    let mut request = Map::new();
    match params.get("query") {
        Some(Value::String(query)) => {
            request.insert("query".into(), Value::String(query.clone()));
        }
        Some(_) => return Err(Malformed("the `query` parameter must be a string".into())),
        None => return Err(Malformed("the `query` parameter is missing".into())),
    }
    match params.get("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => {
            request.insert("operationName".into(), Value::String(name.clone()));
        }
        Some(_) => {
            return Err(Malformed(
                "the `operationName` parameter must be a string".into(),
            ))
        }
    }
    for key in ["variables", "extensions"] {
        match params.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                request.insert(key.into(), Value::Object(map.clone()));
            }
            Some(_) => {
                return Err(Malformed(format!(
                    "the `{key}` parameter must be a JSON object"
                )))
            }
        }
    }
    serde_json::from_value(Value::Object(request))
        .map_err(|err| Malformed(format!("the request parameters are not valid: {err}")))
}

/// The kind of the operation a request would run, when its document parses and names one
/// operation unambiguously (otherwise execution reports why).
pub fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, operation)| operation.node.ty),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_response_type_follows_accept_with_json_as_the_default() {
        use MediaType::*;
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(
            negotiate(Some("application/graphql-response+json")),
            Some(GraphQLResponseJson)
        );
        assert_eq!(
            negotiate(Some("application/json, application/graphql-response+json")),
            Some(GraphQLResponseJson)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(
            negotiate(Some("application/json;charset=latin1, */*;q=0.1")),
            Some(Json)
        );
        assert_eq!(negotiate(Some("text/plain")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }

    #[test]
    fn a_page_is_acceptable_unless_accept_excludes_html() {
        assert!(accepts_html(None));
        assert!(accepts_html(Some("*/*")));
        assert!(accepts_html(Some(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!accepts_html(Some("application/json")));
        assert!(!accepts_html(Some(
            "application/graphql-response+json, text/html;q=0"
        )));
    }

    #[test]
    fn only_json_bodies_in_utf8_are_read() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=UTF-8"
        )));
        assert!(!is_json_content_type(Some(
            "application/json; charset=latin1"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        let refused = |body: &str| from_body(body.as_bytes()).err().map(|Malformed(m)| m);
        assert!(refused("{ \"not a JSON")
            .unwrap_or_default()
            .contains("not valid JSON"));
        assert!(refused("[{\"query\":\"{ a }\"}]")
            .unwrap_or_default()
            .contains("batched"));
        assert!(refused("{}").unwrap_or_default().contains("missing"));
        for bad in [json!({"a": 1}), json!(0), json!(false), json!(["x"])] {
            let body = json!({"query": bad}).to_string();
            assert!(
                refused(&body).unwrap_or_default().contains("`query`"),
                "{body}"
            );
            let body = json!({"query": "{ a }", "operationName": bad}).to_string();
            assert!(
                refused(&body)
                    .unwrap_or_default()
                    .contains("`operationName`"),
                "{body}"
            );
        }
        for bad in [json!("s"), json!(0), json!(false), json!(["x"])] {
            for key in ["variables", "extensions"] {
                let body = json!({"query": "{ a }", key: bad}).to_string();
                assert!(refused(&body).unwrap_or_default().contains(key), "{body}");
            }
        }
        let ok = from_body(
            json!({"query": "{ a }", "operationName": null, "variables": {"x": 1}, "extensions": null})
                .to_string()
                .as_bytes(),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn the_operation_type_is_that_of_the_named_or_only_operation() {
        let kind = |query: &str, name: Option<&str>| {
            let mut request = async_graphql::Request::new(query);
            if let Some(name) = name {
                request = request.operation_name(name);
            }
            operation_type(&mut request)
        };
        assert_eq!(kind("{ a }", None), Some(OperationType::Query));
        assert_eq!(kind("mutation { a }", None), Some(OperationType::Mutation));
        let two = "query Q { a } mutation M { b }";
        assert_eq!(kind(two, Some("M")), Some(OperationType::Mutation));
        assert_eq!(kind(two, Some("Q")), Some(OperationType::Query));
        assert_eq!(kind(two, None), None);
        assert_eq!(kind("{", None), None);
    }
}
