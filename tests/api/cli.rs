//! The README's path for a newcomer, through the real binary: `lift demo` (twice: it is idempotent),
//! then `lift serve`, then the demo tokens against GraphQL over HTTP.

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

fn lift(dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lift"))
        .args(args)
        .current_dir(dir)
        .env_remove("LIFT_JWT_SECRET")
        .env_remove("LIFT_DATABASE_URL")
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

    let first = lift(&dir, &["demo"]);
    let second = lift(&dir, &["demo"]);
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
        Command::new(env!("CARGO_BIN_EXE_lift"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(&dir)
            .env_remove("LIFT_JWT_SECRET")
            .env_remove("LIFT_DATABASE_URL")
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
        body["data"]["environment"]["metrics"]["totalCount"], 2,
        "{body}"
    );
    assert_eq!(
        body["data"]["environment"]["experiments"]["totalCount"], 1,
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
