//! GraphiQL, the in-browser IDE at `GET /graphql`, served entirely by lift: the page and the
//! pinned npm bundles it loads (`assets/graphiql/`, see its README) are embedded in the binary, so
//! it works without internet access. Assets have versioned names and are cached as immutable.
//!
//! Every URL is relative to the page, so GraphiQL also works behind a proxy that adds a path
//! prefix. The headers typed into GraphiQL's header editor are sent with each HTTP request and,
//! for subscriptions, as the WebSocket `connection_init` payload (where lift reads the token).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Where the page finds the assets, relative to `/graphql`.
const ASSET_PATH: &str = "graphiql/assets/";

const ASSETS: &[Asset] = &[
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-dom-18.3.1.production.min.js"),
    },
    Asset {
        name: "graphiql-3.8.3.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql-3.8.3.min.js"),
    },
    Asset {
        name: "graphiql-3.8.3.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql-3.8.3.min.css"),
    },
];

/// Builds the fetcher per operation so that the header editor's headers (the token) also reach
/// subscriptions, as the `connection_init` payload.
const SCRIPT: &str = r#"
      const page = new URL(window.location.pathname, window.location.href);
      const url = page.toString();
      const subscriptionUrl = Object.assign(new URL(page), {
        protocol: page.protocol === 'https:' ? 'wss:' : 'ws:',
      }).toString();
      const fetcher = (params, options) =>
        GraphiQL.createFetcher({
          url,
          subscriptionUrl,
          wsConnectionParams: (options && options.headers) || {},
        })(params, options);
      ReactDOM.createRoot(document.getElementById('graphiql')).render(
        React.createElement(GraphiQL, {
          fetcher,
          defaultEditorToolsVisibility: true,
        }),
      );
"#;

/// The GraphiQL page.
pub fn page() -> Response {
    let mut head = String::new();
    let mut body = String::new();
    for asset in ASSETS {
        let href = format!("{ASSET_PATH}{}", asset.name);
        if asset.name.ends_with(".css") {
            head.push_str(&format!("    <link rel=\"stylesheet\" href=\"{href}\">\n"));
        } else {
            body.push_str(&format!("    <script src=\"{href}\"></script>\n"));
        }
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n    \
         <meta name=\"robots\" content=\"noindex\">\n    \
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n    \
         <title>lift · GraphiQL</title>\n    <link rel=\"icon\" href=\"data:,\">\n{head}    \
         <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>\n  </head>\n  \
         <body>\n    <div id=\"graphiql\">Loading…</div>\n{body}    <script>{SCRIPT}    </script>\n  \
         </body>\n</html>\n"
    );
    ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response()
}

/// `GET /graphiql/assets/{name}`: an embedded asset, cached for a year (names carry versions).
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response(),
    }
}
