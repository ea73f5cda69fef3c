//! The crisis board: a web console for crisis teams and auditors, served at `/` by the
//! same process, driven by the same API and SSE stream as every other client.
//!
//! The page is plain HTML, CSS and JavaScript from `src/http/board/`, compiled into the
//! binary (`include_str!`): no build step, nothing fetched from elsewhere. Every asset
//! goes out with a strict Content-Security-Policy (only this origin; no inline script or
//! style, no framing), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
//! and `Cache-Control: no-cache` with a strong `ETag`, so a browser revalidates and an
//! upgraded crisisd is seen at once.
//!
//! The assets need no token (a browser cannot send one before it has the page); the data
//! does: the page signs in with an API token kept in the tab's `sessionStorage` and sends
//! it as `Authorization: Bearer` on every request, the stream included (it reads SSE over
//! `fetch`, since `EventSource` cannot send that header). `GET /v1/whoami` tells the page
//! which role the token has, so its views and buttons follow it; the API still enforces
//! every role on its own. See `docs/board.md`.

use std::sync::LazyLock;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;

use super::auth::Caller;
use super::routes::{READERS, Routes, op, schema};
use crate::domain::common::Role;

/// The policy every asset is served with: this origin only, no inline code or style,
/// never inside a frame, forms and `<base>` pinned.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One compiled-in file: its bytes, media type and strong ETag.
struct Asset {
    body: &'static str,
    media: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: &'static str, media: &'static str) -> Asset {
        let hash = blake3::hash(body.as_bytes()).to_hex();
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hash[..16]))
            .expect("a hex digest is a header value");
        Asset { body, media, etag }
    }

    /// The file, or 304 when the browser's copy (`If-None-Match`) is this one.
    fn answer(&self, request: &HeaderMap) -> Response {
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == self.etag)
            });
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, self.media)], self.body).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        secure(headers);
        response
    }
}

/// The security headers of every asset.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

static INDEX: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("board/index.html"), "text/html; charset=utf-8"));
static CSS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("board/board.css"), "text/css; charset=utf-8"));
static I18N: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("board/i18n.js"),
        "text/javascript; charset=utf-8",
    )
});
static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("board/board.js"),
        "text/javascript; charset=utf-8",
    )
});

/// This resource's routes: the page and its assets (no token), and `GET /v1/whoami`.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/",
            op("The crisis board, a web console (HTML; signs in with an API token)")
                .media("text/html"),
            |headers: HeaderMap| async move { INDEX.answer(&headers) },
        )
        .get(
            "/board/board.css",
            op("The crisis board's style sheet").media("text/css"),
            |headers: HeaderMap| async move { CSS.answer(&headers) },
        )
        .get(
            "/board/i18n.js",
            op("The crisis board's strings, English and Simplified Chinese")
                .media("text/javascript"),
            |headers: HeaderMap| async move { I18N.answer(&headers) },
        )
        .get(
            "/board/board.js",
            op("The crisis board's script").media("text/javascript"),
            |headers: HeaderMap| async move { JS.answer(&headers) },
        )
        .get(
            "/v1/whoami",
            op("Who the token stands for: actor, role, and whether it sees personal data (the board's sign-in)")
                .roles(READERS)
                .response(schema::<WhoAmI>),
            whoami,
        )
}

/// The caller as its token says: what the board shows and offers follows from it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoAmI {
    /// The actor recorded in the events this token causes.
    pub actor: String,
    pub role: Role,
    /// Personal data is shown to this caller (every role but an auditor without the right).
    pub personal_data: bool,
}

/// `GET /v1/whoami`: for the roles that read (the board's users); an ingest-only token
/// (flight_ops, channel) is refused like on every other read.
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        actor: caller.actor.id,
        role: caller.actor.role,
        personal_data: caller.sees_personal_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_carry_the_policy_and_revalidate() {
        let answer = INDEX.answer(&HeaderMap::new());
        assert_eq!(answer.status(), StatusCode::OK);
        let headers = answer.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, headers[header::ETAG].clone());
        assert_eq!(INDEX.answer(&again).status(), StatusCode::NOT_MODIFIED);
    }

    /// The page loads nothing from elsewhere and holds no inline script or style
    /// (the policy would block them; this says so before a browser does).
    #[test]
    fn the_page_holds_no_inline_code_and_no_outside_reference() {
        for asset in [&*INDEX, &*CSS, &*I18N, &*JS] {
            // The SVG namespace is a name, not an address the page fetches.
            let body = asset.body.replace("http://www.w3.org/2000/svg", "");
            for outside in ["http://", "https://", "//cdn", "@import", "url("] {
                assert!(
                    !body.contains(outside),
                    "{outside} in an asset of type {}",
                    asset.media
                );
            }
        }
        let html = INDEX.body;
        assert!(!html.contains("style="), "inline style attribute");
        assert!(!html.contains("<style"), "inline style element");
        let handler = html.split(" on").skip(1).find(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(handler.is_none(), "inline event handler: on{handler:?}");
        for script in html.split("<script").skip(1) {
            assert!(script.contains("src=\"/board/"), "inline script: {script}");
        }
    }
}
