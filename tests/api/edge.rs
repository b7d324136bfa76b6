//! The HTTP edge against hostile and browser clients: bodies over the limit are refused before
//! they are read, clients that stall in their headers are disconnected, connections beyond the cap
//! are closed while the server keeps answering once a slot frees, CORS and compression.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Upper bound for any single wait.
const WAIT: Duration = Duration::from_secs(20);
const FIFTY_MB: u64 = 50 * 1024 * 1024;

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Reads the response head (status line and headers) or whatever arrives before the server
/// closes; `None` when the connection ends without a byte (or is reset).
async fn response_head<R: AsyncReadExt + Unpin>(reader: &mut R) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed within {WAIT:?}"
    );
    (!head.is_empty()).then(|| String::from_utf8_lossy(&head).into_owned())
}

fn status(head: &str) -> Option<u16> {
    head.split(' ').nth(1)?.parse().ok()
}

/// `GET path` on a new connection: the status, or `None` when the server closed it unanswered.
async fn get_status(app: &TestApp, path: &str) -> Option<u16> {
    let mut stream = connect(app).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: lift\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    response_head(&mut stream).await.and_then(|h| status(&h))
}

db_test_with!(
    a_chunked_body_over_the_limit_is_answered_413_before_the_client_has_sent_it,
    |settings| {
        settings.server.max_body_bytes = 1024 * 1024;
    },
    |app| {
        let (mut reader, mut writer) = connect(&app).await.into_split();
        let sent = Arc::new(AtomicU64::new(0));
        let sending = tokio::spawn({
            let sent = sent.clone();
            async move {
                let head = "POST /graphql HTTP/1.1\r\nHost: lift\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                writer.write_all(head.as_bytes()).await?;
                let chunk = vec![b' '; 64 * 1024];
                let framed = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk,
                    b"\r\n".to_vec(),
                ]
                .concat();
                while sent.load(Ordering::SeqCst) < FIFTY_MB {
                    writer.write_all(&framed).await?;
                    sent.fetch_add(64 * 1024, Ordering::SeqCst);
                }
                writer.write_all(b"0\r\n\r\n").await
            }
        });
        let head = response_head(&mut reader).await.expect("an answer");
        let sent_when_answered = sent.load(Ordering::SeqCst);
        sending.abort();
        assert_eq!(status(&head), Some(413), "{head}");
        assert!(
            sent_when_answered < FIFTY_MB,
            "answered only after the whole body was sent ({sent_when_answered} bytes)"
        );
        // The server is unharmed and a body within the limit still runs.
        let body = app
            .post(None, "{ __typename }", serde_json::json!({}))
            .await;
        assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
    }
);

db_test!(
    a_declared_content_length_over_the_limit_is_refused_before_any_body_byte,
    |app| {
        let mut stream = connect(&app).await;
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: lift\r\nContent-Type: application/json\r\nContent-Length: {FIFTY_MB}\r\n\r\n"
        );
        stream
            .write_all(head.as_bytes())
            .await
            .expect("headers sent");
        let answer = response_head(&mut stream).await.expect("an answer");
        assert_eq!(status(&answer), Some(413), "{answer}");
    }
);

db_test_with!(
    clients_that_stall_before_or_within_their_headers_are_disconnected_after_the_timeout,
    |settings| {
        settings.server.header_read_timeout_seconds = 1;
    },
    |app| {
        let started = Instant::now();
        let mut silent = connect(&app).await;
        let mut partial = connect(&app).await;
        partial
            .write_all(b"GET /health HTTP/1.1\r\nHost: lift\r\nX-Slow: ")
            .await
            .expect("partial headers sent");
        for stream in [&mut silent, &mut partial] {
            let answer = response_head(stream).await;
            assert!(
                answer.as_deref().and_then(status).is_none_or(|s| s == 408),
                "a stalled request got an answer: {answer:?}"
            );
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "closed too early: {took:?}"
        );
        assert!(took < Duration::from_secs(6), "closed too late: {took:?}");
        assert_eq!(get_status(&app, "/health").await, Some(200));
    }
);

db_test_with!(
    beyond_the_connection_cap_new_connections_are_closed_and_health_answers_once_a_slot_frees,
    |settings| {
        settings.server.max_connections = 3;
        settings.server.header_read_timeout_seconds = 60;
    },
    |app| {
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(connect(&app).await);
        }
        // The server accepts in order, so the fourth connection finds every slot taken.
        assert_eq!(
            get_status(&app, "/health").await,
            None,
            "served beyond the cap"
        );
        drop(idle.pop());
        let mut answered = None;
        for _ in 0..100 {
            answered = get_status(&app, "/health").await;
            if answered.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(answered, Some(200), "no slot freed after a client left");
    }
);

db_test!(an_h2c_client_with_prior_knowledge_is_served_http2, |app| {
    let mut stream = connect(&app).await;
    // The connection preface, then an empty SETTINGS frame (length 0, type 4, no flags, stream 0).
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&hello).await.expect("preface sent");
    let mut frame_header = [0u8; 9];
    tokio::time::timeout(WAIT, stream.read_exact(&mut frame_header))
        .await
        .expect("an answer in time")
        .expect("a frame");
    assert_eq!(
        frame_header[3], 4,
        "the server's first frame is SETTINGS: {frame_header:?}"
    );
});

/// An OPTIONS preflight from `origin` for a POST with a token.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight")
}

db_test_with!(
    listed_origins_get_cors_with_credentials_and_others_get_none,
    |settings| {
        settings.server.cors_origins = vec!["https://app.example".into()];
    },
    |app| {
        let answer = preflight(&app, "https://app.example").await;
        assert!(answer.status().is_success(), "{}", answer.status());
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            header(&answer, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let allowed = header(&answer, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
        let post = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .header("Origin", "https://app.example")
            .json(&serde_json::json!({"query": "{ __typename }"}))
            .send()
            .await
            .expect("post");
        assert_eq!(
            header(&post, "access-control-allow-origin").as_deref(),
            Some("https://app.example")
        );

        let other = preflight(&app, "https://evil.example").await;
        assert_eq!(header(&other, "access-control-allow-origin"), None);
    }
);

db_test_with!(
    a_star_allows_every_origin_without_credentials,
    |settings| {
        settings.server.cors_origins = vec!["*".into()];
    },
    |app| {
        let answer = preflight(&app, "https://anywhere.example").await;
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some("*")
        );
        assert_eq!(header(&answer, "access-control-allow-credentials"), None);
    }
);

db_test!(
    without_configured_origins_there_are_no_cors_headers,
    |app| {
        let answer = preflight(&app, "https://app.example").await;
        assert_eq!(header(&answer, "access-control-allow-origin"), None);
    }
);

db_test!(responses_are_compressed_for_clients_that_accept_it, |app| {
    let get = |encoding: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", app.address));
        if let Some(encoding) = encoding {
            request = request.header("Accept-Encoding", encoding);
        }
        request.send()
    };
    let plain = get(None).await.expect("plain");
    assert_eq!(header(&plain, "content-encoding"), None);
    let plain = plain.bytes().await.expect("plain body");
    assert!(plain.starts_with(b"# "), "plain text");

    let gzip = get(Some("gzip")).await.expect("gzip");
    assert_eq!(header(&gzip, "content-encoding").as_deref(), Some("gzip"));
    let gzip = gzip.bytes().await.expect("gzip body");
    assert_eq!(&gzip[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(gzip.len() < plain.len());

    let br = get(Some("br")).await.expect("br");
    assert_eq!(header(&br, "content-encoding").as_deref(), Some("br"));
    assert!(br.bytes().await.expect("br body").len() < plain.len());
});
