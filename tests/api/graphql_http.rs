//! GraphQL over HTTP as its specification says: the spec's own audit suite (npm `graphql-http`,
//! run by node on `tests/js/audit.mjs`) passes every MUST and SHOULD against the running server,
//! and the decisions it leaves open are pinned here: mutations never run over GET, malformed
//! requests are GraphQL errors coded `BAD_USER_INPUT`, batches are refused.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::helpers::*;

/// Upper bound for the audit run (it sends about 60 small requests).
const WAIT: Duration = Duration::from_secs(60);

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn js_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("js");
    let package = dir.join("node_modules").join("graphql-http");
    assert!(
        package.is_dir(),
        "{} is missing: run `npm ci --prefix tests/js` (scripts/test does)",
        package.display()
    );
    dir
}

/// Status, content type and JSON body of a response.
async fn answer(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type").unwrap_or_default();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("the body is not JSON ({err}): {text:?}"));
    (status, content_type, body)
}

async fn post_raw(app: &TestApp, accept: &str, body: &str) -> (u16, String, Value) {
    let response = http_client()
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    answer(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_over_http_audit_suite_finds_no_must_or_should_failure() {
    let app = spawn_app(Backend::Sqlite).await;
    let url = format!("{}/graphql", app.address);
    let run = Command::new("node")
        .current_dir(js_dir())
        .args(["audit.mjs", url.as_str()])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .unwrap_or_else(|_| panic!("the audit did not finish within {WAIT:?}"))
        .unwrap_or_else(|err| {
            panic!("could not run `node` from PATH ({err}); scripts/test installs it")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("error ") || line.starts_with("warn "))
        .collect();
    assert!(
        output.status.success() && failures.is_empty(),
        "the audit failed ({}):\n{}\n{stdout}\nstderr:\n{stderr}",
        output.status,
        failures.join("\n")
    );
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("SUMMARY "))
        .unwrap_or_else(|| panic!("no summary from the audit:\n{stdout}"));
    // Every optional (MAY) behaviour is implemented too: 400 for malformed parameters, GET queries.
    assert!(summary.ends_with("error=0 warn=0 notice=0"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_fails_before_execution_is_400_without_data_when_the_client_accepts_graphql_response_json(
) {
    let app = spawn_app(Backend::Sqlite).await;
    for query in ["{", "{ noSuchField }", "query($id: ID!) { __typename }"] {
        let body = json!({"query": query, "variables": {"id": null}}).to_string();
        let (status, content_type, response) = post_raw(&app, GRAPHQL_RESPONSE, &body).await;
        assert_eq!(status, 400, "{query}: {response}");
        assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
        assert!(response.get("data").is_none(), "{query}: {response}");
        assert_eq!(code(&response), "BAD_USER_INPUT", "{query}: {response}");

        // The legacy media type keeps 200 for every GraphQL response.
        let (status, content_type, response) = post_raw(&app, "application/json", &body).await;
        assert_eq!(status, 200, "{query}: {response}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert_eq!(code(&response), "BAD_USER_INPUT", "{query}: {response}");
    }
    // An error while executing is still a 200 with `data`.
    let body = json!({"query": "{ viewer { email } }"}).to_string();
    let (status, _, response) = post_raw(&app, GRAPHQL_RESPONSE, &body).await;
    assert_eq!(status, 200, "{response}");
    assert!(response.get("data").is_some(), "{response}");
    assert_eq!(code(&response), "UNAUTHENTICATED", "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_batches_and_misplaced_parameters_are_bad_user_input_with_a_reason() {
    let app = spawn_app(Backend::Sqlite).await;
    let cases = [
        ("{ \"not a JSON", "not valid JSON"),
        (
            r#"[{"query": "{ __typename }"}]"#,
            "batched requests are not supported",
        ),
        (
            r#"{"qeury": "{ __typename }"}"#,
            "`query` parameter is missing",
        ),
        (r#"{"query": 1}"#, "`query` parameter must be a string"),
        (
            r#"{"query": "{ __typename }", "variables": "x"}"#,
            "`variables`",
        ),
        (
            r#"{"query": "{ __typename }", "operationName": false}"#,
            "`operationName`",
        ),
    ];
    for accept in [GRAPHQL_RESPONSE, "application/json"] {
        for (body, reason) in cases {
            let (status, content_type, response) = post_raw(&app, accept, body).await;
            assert_eq!(status, 400, "{body}: {response}");
            assert!(content_type.starts_with(accept), "{body}: {content_type}");
            assert_eq!(code(&response), "BAD_USER_INPUT", "{body}: {response}");
            let message = response["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(
                message.contains(reason),
                "{body}: {message:?} should say {reason:?}"
            );
        }
    }

    let response = http_client()
        .post(format!("{}/graphql", app.address))
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .expect("request sent");
    let (status, _, response) = answer(response).await;
    assert_eq!(status, 415, "{response}");
    assert_eq!(code(&response), "BAD_USER_INPUT", "{response}");

    let response = http_client()
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .header("accept", "text/plain")
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .expect("request sent");
    let (status, _, response) = answer(response).await;
    assert_eq!(status, 406, "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_without_a_query_is_graphiql_unless_the_client_accepts_only_graphql_responses() {
    let app = spawn_app(Backend::Sqlite).await;
    for accept in ["*/*", "text/html"] {
        let response = http_client()
            .get(format!("{}/graphql", app.address))
            .header("accept", accept)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 200, "{accept}");
        let html = response.text().await.expect("body");
        assert!(html.contains("GraphiQL"), "{accept}: {html}");
    }
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let response = http_client()
            .get(format!("{}/graphql", app.address))
            .header("accept", accept)
            .send()
            .await
            .expect("request sent");
        let (status, _, body) = answer(response).await;
        assert_eq!(status, 400, "{accept}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{accept}: {body}");
    }
}

db_test!(
    queries_run_over_get_but_mutations_are_405_and_change_nothing,
    |app| {
        app.world().await;
        let token = format!("Bearer {}", token(users::ORG_ADMIN));
        let query = "{ viewer { email } }";
        let response = http_client()
            .get(format!("{}/graphql", app.address))
            .query(&[("query", query)])
            .header("authorization", &token)
            .send()
            .await
            .expect("request sent");
        let (status, _, body) = answer(response).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["viewer"]["email"], users::ORG_ADMIN, "{body}");

        let variables = json!({"input": metric_input(ENV, "Created over GET")}).to_string();
        let response = http_client()
            .get(format!("{}/graphql", app.address))
            .query(&[("query", CREATE_METRIC), ("variables", variables.as_str())])
            .header("authorization", &token)
            .header("accept", GRAPHQL_RESPONSE)
            .send()
            .await
            .expect("request sent");
        let allow = header(&response, "allow").unwrap_or_default();
        let (status, _, body) = answer(response).await;
        assert_eq!(status, 405, "{body}");
        assert!(allow.contains("POST"), "Allow: {allow}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

        let data = app
        .ok(
            users::ORG_ADMIN,
            "query($key: String!) { environment(key: $key) { metrics(first: 10) { totalCount } auditLogs(first: 10) { nodes { log } } } }",
            json!({"key": ENV}),
        )
        .await;
        assert_eq!(data["environment"]["metrics"]["totalCount"], 0, "{data}");
        assert_eq!(
            data["environment"]["auditLogs"]["nodes"],
            json!([]),
            "{data}"
        );
    }
);
