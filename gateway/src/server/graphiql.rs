//! GraphiQL, served on `GET /graphql` to browsers, with everything it needs
//! inside the binary: pinned GraphiQL and React production builds
//! (`assets/graphiql/`, gzipped; their licenses in `LICENSES.md`) on
//! `/graphiql/<version>/<file>`, so the page works with no network. Queries
//! and mutations go to `/graphql` over HTTP, subscriptions over WebSocket
//! on the same path; the headers editor is on.
//!
//! A `#query=…` (and `&variables=…`) fragment in the page's URL opens
//! GraphiQL with that operation (a fragment, because `?query=` runs it).

use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use http::{HeaderMap, StatusCode};
use std::io::Read as _;

/// The GraphiQL version served; part of the assets' paths, so that a
/// browser's cache never mixes versions.
pub const VERSION: &str = "3.8.3";

/// An embedded file: its name, media type and gzipped bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    gzipped: &'static [u8],
}

const ASSETS: [Asset; 4] = [
    Asset {
        name: "graphiql.min.js",
        media_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../assets/graphiql/graphiql.min.js.gz"),
    },
    Asset {
        name: "graphiql.min.css",
        media_type: "text/css; charset=utf-8",
        gzipped: include_bytes!("../../assets/graphiql/graphiql.min.css.gz"),
    },
    Asset {
        name: "react.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../assets/graphiql/react.production.min.js.gz"),
    },
    Asset {
        name: "react-dom.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../assets/graphiql/react-dom.production.min.js.gz"),
    },
];

/// The GraphiQL page, with the assets' version filled in once.
static PAGE_HTML: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| PAGE.replace("{version}", VERSION));

/// The GraphiQL page.
pub fn page() -> Response {
    ([(CACHE_CONTROL, "no-cache")], Html(PAGE_HTML.as_str())).into_response()
}

/// `GET /graphiql/{version}/{file}`: an embedded asset, gzipped as stored
/// when the client accepts gzip, else inflated.
pub async fn asset(Path((version, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS
        .iter()
        .find(|asset| version == VERSION && asset.name == name)
    else {
        return (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response();
    };
    let common = [
        (CONTENT_TYPE, asset.media_type),
        (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (VARY, "accept-encoding"),
    ];
    if accepts_gzip(&headers) {
        return (common, [(CONTENT_ENCODING, "gzip")], asset.gzipped).into_response();
    }
    let mut inflated = Vec::new();
    match flate2::read::GzDecoder::new(asset.gzipped).read_to_end(&mut inflated) {
        Ok(_) => (common, inflated).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|param| param.trim().replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>weft · GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/{version}/graphiql.min.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/{version}/react.production.min.js"></script>
  <script src="/graphiql/{version}/react-dom.production.min.js"></script>
  <script src="/graphiql/{version}/graphiql.min.js"></script>
  <script>
    const endpoint = new URL("/graphql", location.href);
    const socket = new URL(endpoint);
    socket.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const fetcher = GraphiQL.createFetcher({
      url: endpoint.href,
      subscriptionUrl: socket.href,
    });
    const params = new URLSearchParams(location.hash.slice(1));
    const props = { fetcher, isHeadersEditorEnabled: true, shouldPersistHeaders: false };
    if (params.has("query")) props.query = params.get("query");
    if (params.has("variables")) props.variables = params.get("variables");
    ReactDOM.createRoot(document.getElementById("graphiql"))
      .render(React.createElement(GraphiQL, props));
  </script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, value.parse().unwrap());
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_accept_it() {
        assert!(accept("gzip, deflate, br"));
        assert!(accept("br;q=1.0, GZIP;q=0.5"));
        assert!(accept("*"));
        assert!(!accept("gzip;q=0"));
        assert!(!accept("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_asset_inflates() {
        for asset in &ASSETS {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(asset.gzipped)
                .read_to_end(&mut inflated)
                .unwrap();
            assert!(inflated.len() > asset.gzipped.len(), "{}", asset.name);
        }
    }
}
