//! The README's path for a newcomer, through the real binary: `lift demo` (twice: it is idempotent)
//! with the local ClickHouse engine, then `lift serve`, then the demo tokens against GraphQL over
//! HTTP, down to the demo experiment's results (health, recommendation, CUPED and chance to win,
//! as the README's query shows them).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lift` as scripts/dev runs it: the embedded SQLite default, the local ClickHouse engine (each
/// test run in its own ClickHouse database).
fn command(dir: &std::path::Path, clickhouse_database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lift"));
    command
        .current_dir(dir)
        .env_remove("LIFT_JWT_SECRET")
        .env_remove("LIFT_DATABASE_URL")
        .env("LIFT_CLICKHOUSE_URL", crate::clickhouse::clickhouse_url())
        .env("LIFT_CLICKHOUSE_COMPRESSION", "none")
        .env("LIFT_CLICKHOUSE_DATABASE", clickhouse_database);
    command
}

fn lift(dir: &std::path::Path, clickhouse_database: &str, args: &[&str]) -> String {
    let output = command(dir, clickhouse_database)
        .args(args)
        .output()
        .expect("run lift");
    assert!(
        output.status.success(),
        "lift {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    client
        .post(url)
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn demo_then_serve_lets_the_admin_create_a_metric_and_the_viewer_is_forbidden() {
    let dir = std::env::temp_dir()
        .join("lift-tests")
        .join(format!("cli_{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");

    let clickhouse_database = format!("lift_cli_{}", uuid::Uuid::now_v7().simple());
    let first = lift(&dir, &clickhouse_database, &["demo"]);
    let second = lift(&dir, &clickhouse_database, &["demo"]);
    assert!(first.contains("Loaded"), "{first}");
    assert!(second.contains("already loaded"), "{second}");
    let tokens = |out: &str| -> Vec<(String, String)> {
        out.lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .filter(|(email, _)| email.contains('@'))
            .collect()
    };
    assert_eq!(tokens(&first).len(), 3, "{first}");
    assert_eq!(tokens(&second).len(), 3, "{second}");
    let secret = dir.join("data").join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret)
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let port = free_port();
    let _server = Server(
        command(&dir, &clickhouse_database)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lift serve"),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "lift serve did not become healthy");

    let graphiql = client
        .get(format!("{base}/graphql"))
        .send()
        .await
        .expect("graphiql");
    assert!(graphiql.text().await.expect("html").contains("graphiql"));

    let toks = tokens(&second);
    let token_of = |email: &str| {
        toks.iter()
            .find(|(e, _)| e == email)
            .map(|(_, t)| t.clone())
            .expect("token")
    };
    let url = format!("{base}/graphql");
    let create = "mutation($i: CreateMetricInput!) { createMetric(input: $i) { name } }";
    let input = json!({"i": {"environmentKey": "demo", "name": "Signups", "metricType": "CONVERSION",
        "aggregation": "OCCURRENCE", "direction": "UP", "definition": {"event": "signup"}}});

    let body = post(
        &client,
        &url,
        &token_of("admin@example.com"),
        create,
        input.clone(),
    )
    .await;
    assert_eq!(body["data"]["createMetric"]["name"], "Signups", "{body}");
    let body = post(
        &client,
        &url,
        &token_of("viewer@example.com"),
        create,
        input.clone(),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let body = post(
        &client,
        &url,
        &token_of("outsider@example.com"),
        create,
        input,
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );

    let list =
        "{ environment(key: \"demo\") { metrics { totalCount } experiments { totalCount } } }";
    let body = post(
        &client,
        &url,
        &token_of("viewer@example.com"),
        list,
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["environment"]["metrics"]["totalCount"], 7,
        "{body}"
    );
    assert_eq!(
        body["data"]["environment"]["experiments"]["totalCount"], 1,
        "{body}"
    );

    // The demo experiment shows real results: a balanced split and a win on purchases, judged
    // by the Bayesian engine with CUPED, healthy, with a recommendation to ship.
    let results = "{ environment(key: \"demo\") { experiments { edges { node { analysis { engine alpha cuped } results { frozen exposures { identities } srm { mismatch } health { status checks { kind status } } recommendations { variant decision } metrics { experimentMetric { metric { name } } variants { variant n mean numeratorSum denominatorSum } comparisons { verdict absoluteDifference { ciLower ciUpper } relativeLift { ciLower ciUpper pValue chanceToWin } unadjusted { absoluteDifference { ciLower ciUpper } relativeLift { ciLower ciUpper } } cuped { status fallback varianceReduction } } } } } } } } }";
    let body = post(
        &client,
        &url,
        &token_of("viewer@example.com"),
        results,
        json!({}),
    )
    .await;
    let experiment = &body["data"]["environment"]["experiments"]["edges"][0]["node"];
    assert_eq!(experiment["analysis"]["engine"], "BAYESIAN", "{body}");
    assert_eq!(experiment["analysis"]["cuped"], true, "{body}");
    let results = &experiment["results"];
    assert_eq!(results["frozen"], false, "{body}");
    assert_eq!(results["srm"]["mismatch"], false, "{body}");
    let exposed: u64 = results["exposures"]
        .as_array()
        .expect("exposures")
        .iter()
        .map(|e| e["identities"].as_u64().expect("identities"))
        .sum();
    assert!(exposed > 100_000, "{body}");
    assert_eq!(results["health"]["status"], "HEALTHY", "{body}");
    assert_eq!(
        results["recommendations"],
        json!([{"variant": "treatment", "decision": "SHIP"}]),
        "{body}"
    );
    let comparison_of = |name: &str| {
        results["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["experimentMetric"]["metric"]["name"] == name)
            .map(|m| m["comparisons"][0].clone())
            .expect("metric in results")
    };
    let purchases = comparison_of("Purchase conversion");
    assert_eq!(purchases["verdict"], "WIN", "{body}");
    // Bayesian: a chance to win instead of a p-value, and a WIN needs at least 1 − α/2.
    let alpha = experiment["analysis"]["alpha"].as_f64().expect("alpha");
    let chance = purchases["relativeLift"]["chanceToWin"]
        .as_f64()
        .expect("chance to win");
    assert!(chance >= 1.0 - alpha / 2.0, "{body}");
    assert!(purchases["relativeLift"]["pValue"].is_null(), "{body}");

    // CUPED: identities' activity before exposure predicts the later one, so the adjusted
    // intervals are narrower than the unadjusted ones. The generator's habits give a variance
    // reduction near ρ² ≈ 0.22 on purchases and 0.5625 on page views (see `demo_events`).
    let width =
        |e: &Value| e["ciUpper"].as_f64().expect("upper") - e["ciLower"].as_f64().expect("lower");
    let narrowed = |name: &str, at_least: f64| {
        let c = comparison_of(name);
        assert_eq!(c["cuped"]["status"], "APPLIED", "{name}: {c}");
        let reduction = c["cuped"]["varianceReduction"]
            .as_f64()
            .expect("variance reduction");
        assert!(reduction > at_least, "{name}: {c}");
        // The interval of the absolute difference scales with its standard deviation, so it
        // narrows by exactly √(1 − reduction) (flat prior: the posterior is the data's).
        let ratio = width(&c["absoluteDifference"]) / width(&c["unadjusted"]["absoluteDifference"]);
        let expected = (1.0 - reduction).sqrt();
        assert!(
            ((ratio - expected) / expected).abs() < 1e-9,
            "{name}: {ratio} against {expected}: {c}"
        );
        assert!(
            width(&c["relativeLift"]) < width(&c["unadjusted"]["relativeLift"]),
            "{name}: {c}"
        );
    };
    narrowed("Purchase conversion", 0.15);
    narrowed("Revenue per user", 0.1);
    narrowed("Pro plan conversion", 0.05);
    narrowed("Page views per user", 0.5);
    // MEAN metrics have no covariate (an identity without pre-period purchases has no mean).
    let order_value = comparison_of("Average order value");
    assert_eq!(order_value["cuped"]["status"], "FELL_BACK", "{body}");
    assert_eq!(order_value["cuped"]["fallback"], "NO_COVARIATE", "{body}");
    // The RATIO order value: revenue over purchases, pooled over the same buyers the MEAN metric
    // counts (those with a purchase after exposure), its mean shown with both totals. gbstats
    // 0.8.0 has no CUPED for ratios.
    let metric_of = |name: &str| {
        results["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["experimentMetric"]["metric"]["name"] == name)
            .cloned()
            .expect("metric in results")
    };
    let ratio = metric_of("Average order value (ratio)");
    let mean = metric_of("Average order value");
    for (r, m) in ratio["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .zip(mean["variants"].as_array().expect("variants"))
    {
        assert_eq!(r["n"], m["n"], "the same buyers: {r} {m}");
        assert!(
            m["numeratorSum"].is_null() && m["denominatorSum"].is_null(),
            "{m}"
        );
        let (revenue, purchases) = (
            r["numeratorSum"].as_f64().expect("revenue"),
            r["denominatorSum"].as_f64().expect("purchases"),
        );
        assert!(purchases >= r["n"].as_f64().expect("n"), "{r}");
        let shown = r["mean"].as_f64().expect("mean");
        assert!(((shown - revenue / purchases) / shown).abs() < 1e-12, "{r}");
    }
    let ratio = comparison_of("Average order value (ratio)");
    assert_eq!(ratio["cuped"]["status"], "FELL_BACK", "{body}");
    assert_eq!(ratio["cuped"]["fallback"], "RATIO_METRIC", "{body}");
    assert_ne!(
        ratio["verdict"], "LOSS",
        "order values do not change: {ratio}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
