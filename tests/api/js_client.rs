//! Interoperability with what frontends use: the reference JavaScript client `graphql-ws`, run by
//! node on `tests/js/subscribe.mjs`, subscribes to `auditLogCreated` on the running server.
//! `scripts/test` installs node and the client (`npm ci --prefix tests/js`).

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::helpers::*;

/// Upper bound for any single wait on node (the script gives up by itself after 30 s).
const WAIT: Duration = Duration::from_secs(45);

const LATEST_AUDIT_ENTRY: &str = "query($key: String!) { environment(key: $key) { auditLogs(first: 1) { nodes { cursor sequence log } } } }";

fn js_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("js");
    for package in ["graphql-ws", "ws"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "{} is missing: run `npm ci --prefix tests/js` (scripts/test does)",
            dir.join("node_modules").join(package).display()
        );
    }
    dir
}

/// `subscribe.mjs` running under node, read line by line.
struct Node {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
}

impl Node {
    fn spawn(
        app: &TestApp,
        token: &str,
        environment_key: &str,
        count: usize,
        flags: &[&str],
    ) -> Node {
        let url = format!("{}/graphql", app.address.replacen("http://", "ws://", 1));
        let mut child = Command::new("node")
            .current_dir(js_dir())
            .arg("subscribe.mjs")
            .args([url.as_str(), token, environment_key, &count.to_string()])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("could not run `node` from PATH ({err}); scripts/test installs it")
            });
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            stderr.read_to_string(&mut text).await.ok();
            text
        });
        Node {
            child,
            stdout,
            stderr,
        }
    }

    /// The next line node prints; fails the test (with node's stderr) on end of output or timeout.
    async fn line(&mut self, what: &str) -> String {
        match tokio::time::timeout(WAIT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                let (status, _, stderr) = self.finish().await;
                panic!("node ended ({status}) before {what}; stderr:\n{stderr}")
            }
            Ok(Err(err)) => panic!("reading node's output before {what}: {err}"),
            Err(_) => {
                self.child.start_kill().ok();
                let (_, _, stderr) = self.finish().await;
                panic!("no {what} from node within {WAIT:?}; stderr:\n{stderr}")
            }
        }
    }

    /// Waits for node to exit: its status, the rest of its stdout, and its stderr.
    async fn finish(&mut self) -> (ExitStatus, Vec<String>, String) {
        let mut rest = Vec::new();
        let read_rest = async {
            while let Some(line) = self.stdout.next_line().await.expect("node's stdout") {
                rest.push(line);
            }
        };
        if tokio::time::timeout(WAIT, read_rest).await.is_err() {
            self.child.start_kill().ok();
        }
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(status) => status.expect("node's exit status"),
            Err(_) => {
                self.child.start_kill().ok();
                panic!("node did not exit within {WAIT:?}")
            }
        };
        let stderr = match tokio::time::timeout(WAIT, &mut self.stderr).await {
            Ok(text) => text.expect("stderr reader"),
            Err(_) => "<stderr not closed>".into(),
        };
        (status, rest, stderr)
    }
}

db_test!(
    the_graphql_ws_client_receives_every_new_audit_entry_of_its_environment_in_commit_order,
    |app| {
        app.world().await;
        // The subscription starts after a cursor, so an entry committed while the server is still
        // starting the subscription is replayed rather than missed: READY only says the
        // `subscribe` message was sent.
        app.metric(ENV, "Before the subscription").await;
        let data = app
            .ok(users::ENV_VIEWER, LATEST_AUDIT_ENTRY, json!({"key": ENV}))
            .await;
        let latest = &data["environment"]["auditLogs"]["nodes"][0];
        assert_eq!(latest["log"], "Metric 'Before the subscription' created");
        let cursor = latest["cursor"].as_str().expect("cursor").to_owned();

        let mut node = Node::spawn(
            &app,
            &token(users::ENV_VIEWER),
            ENV,
            5,
            &["--after", &cursor],
        );
        assert_eq!(node.line("READY").await, "READY");

        let names: Vec<String> = (1..=5).map(|i| format!("JS client metric {i}")).collect();
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            ids.push(app.metric(ENV, name).await);
            if i == 1 {
                // Another environment's entries never reach this subscriber.
                app.metric(OTHER_ENV, "Elsewhere").await;
            }
        }

        let mut events = Vec::new();
        for i in 1..=5 {
            let line = node.line(&format!("event {i}")).await;
            let event: Value = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("event {i} is not JSON ({err}): {line}"));
            events.push(event);
        }
        let (status, rest, stderr) = node.finish().await;
        assert!(
            status.success(),
            "node exited with {status}; stderr:\n{stderr}"
        );
        assert!(rest.is_empty(), "output after 5 events: {rest:?}");

        for ((event, name), id) in events.iter().zip(&names).zip(&ids) {
            assert_eq!(event["log"], format!("Metric '{name}' created"), "{event}");
            assert_eq!(event["action"], "CREATED", "{event}");
            assert_eq!(event["relatedObjectType"], "METRIC", "{event}");
            assert_eq!(event["relatedObjectId"], id.as_str(), "{event}");
            assert_eq!(event["actor"]["email"], users::ORG_ADMIN, "{event}");
        }
        let mut sequences = vec![latest["sequence"].clone()];
        sequences.extend(events.iter().map(|event| event["sequence"].clone()));
        let sequences: Vec<i64> = sequences
            .iter()
            .map(|s| {
                s.as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("sequence {s} is not an integer string"))
            })
            .collect();
        assert!(
            sequences.windows(2).all(|pair| pair[0] < pair[1]),
            "sequences (the cursor's first) are not strictly increasing: {sequences:?}"
        );
    }
);

db_test!(
    the_graphql_ws_client_sees_close_code_4403_for_a_token_signed_with_another_key,
    |app| {
        app.world().await;
        let now = jsonwebtoken::get_current_timestamp();
        let wrong_key = sign(
            &json!({"sub": users::ENV_VIEWER, "exp": now + 3600}),
            b"another-secret-that-is-long-enough-0123456789",
        );
        let mut node = Node::spawn(&app, &wrong_key, ENV, 1, &["--expect-close"]);
        let line = node.line("the close").await;
        let (status, rest, stderr) = node.finish().await;
        assert!(
            status.success(),
            "node exited with {status}; stderr:\n{stderr}"
        );
        assert!(rest.is_empty(), "output after the close: {rest:?}");
        let reason = line
            .strip_prefix("CLOSED 4403 ")
            .unwrap_or_else(|| panic!("expected close code 4403 (Forbidden), got: {line}"));
        assert!(
            reason.contains("signature"),
            "the close reason does not say what is wrong: {reason}"
        );
    }
);
