//! GraphiQL is served by lift itself: the page a browser gets at `GET /graphql` loads only
//! assets lift embeds, each with its content type and immutable cache headers.

use crate::helpers::*;

/// The values of `attribute="…"` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_graphiql_whose_assets_are_all_served_by_lift() {
    let app = spawn_app(Backend::Sqlite).await;
    let response = http_client()
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = header(&response, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.expect("body");
    assert!(html.contains("GraphiQL"), "{html}");
    for external in ["http://", "https://", "//unpkg", "cdn"] {
        assert!(
            !html.contains(external),
            "the page names {external:?}:\n{html}"
        );
    }

    let scripts = attribute_values(&html, "src");
    let styles: Vec<&str> = attribute_values(&html, "href")
        .into_iter()
        .filter(|href| href.ends_with(".css"))
        .collect();
    assert_eq!(
        scripts.len(),
        3,
        "react, react-dom and graphiql: {scripts:?}"
    );
    assert_eq!(styles.len(), 1, "{styles:?}");
    let assets = scripts
        .iter()
        .map(|src| (src, "text/javascript"))
        .chain(styles.iter().map(|href| (href, "text/css")));
    let mut total = 0;
    for (path, expected_type) in assets {
        assert!(
            path.starts_with("graphiql/assets/"),
            "{path} is not a relative path to lift's assets"
        );
        let response = http_client()
            .get(format!("{}/{path}", app.address))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(expected_type), "{path}");
        assert!(header("cache-control").contains("immutable"), "{path}");
        let bytes = response.bytes().await.expect("asset body");
        assert!(!bytes.is_empty(), "{path}");
        total += bytes.len();
    }
    assert!(total < 5_000_000, "the assets weigh {total} bytes");

    let missing = http_client()
        .get(format!("{}/graphiql/assets/nope.js", app.address))
        .send()
        .await
        .expect("request sent");
    assert_eq!(missing.status().as_u16(), 404);
}
