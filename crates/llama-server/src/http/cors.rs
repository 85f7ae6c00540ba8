//! CORS as llama.cpp's server does it (`tools/server/server-http.cpp`, pre-routing handler):
//! every response gets `Access-Control-Allow-Origin`; an `OPTIONS` request is a preflight,
//! answered 200 with the allowed credentials, methods and headers before the API key, the
//! loading state or the route are looked at (browsers send no `Authorization` on preflights).

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `--cors-origins`, `--cors-methods`, `--cors-headers`, `--cors-credentials` (llama.cpp's
/// defaults: `*`, `GET, POST, DELETE, OPTIONS`, `*`, true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// `*`, `localhost` (reflect only a localhost `Origin`), or the header's literal value.
    pub origins: String,
    pub methods: String,
    pub headers: String,
    pub credentials: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: "*".into(),
            methods: "GET, POST, DELETE, OPTIONS".into(),
            headers: "*".into(),
            credentials: true,
        }
    }
}

impl CorsConfig {
    /// `Access-Control-Allow-Origin` for a request with `origin`; `None`: no header. With
    /// credentials and `*`, the request's origin is echoed (empty when it sent none, as
    /// llama.cpp).
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        if self.credentials && self.origins == "*" {
            return Some(origin.unwrap_or("").to_owned());
        }
        if self.origins == "localhost" {
            return origin.filter(|o| is_localhost(o)).map(str::to_owned);
        }
        Some(self.origins.clone())
    }
}

/// Whether an origin URL's host is `localhost`, `127.0.0.1` or `::1` (llama.cpp's
/// `origin_is_localhost`).
pub fn is_localhost(origin: &str) -> bool {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Middleware: the CORS headers on every response; preflights answered here.
pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cfg = &state.config().cors;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let allow = cfg.allow_origin(origin);
    let mut response = if req.method() == Method::OPTIONS {
        let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "").into_response();
        let credentials = if cfg.credentials { "true" } else { "false" };
        set(
            r.headers_mut(),
            "access-control-allow-credentials",
            credentials,
        );
        set(
            r.headers_mut(),
            "access-control-allow-methods",
            &cfg.methods,
        );
        set(
            r.headers_mut(),
            "access-control-allow-headers",
            &cfg.headers,
        );
        r
    } else {
        next.run(req).await
    };
    if let Some(allow) = allow {
        set(
            response.headers_mut(),
            "access-control-allow-origin",
            &allow,
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_llama_cpp() {
        let default = CorsConfig::default();
        assert_eq!(
            default.allow_origin(Some("web.mydomain.fr")).as_deref(),
            Some("web.mydomain.fr")
        );
        assert_eq!(default.allow_origin(None).as_deref(), Some(""));
        let local = CorsConfig {
            origins: "localhost".into(),
            ..CorsConfig::default()
        };
        for ok in [
            "http://localhost",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "http://[::1]",
            "http://[::1]:3000",
        ] {
            assert_eq!(local.allow_origin(Some(ok)).as_deref(), Some(ok), "{ok}");
        }
        for no in [
            "http://web.mydomain.fr",
            "http://evil.com",
            "http://notlocalhost",
            "http://localhost.evil.com",
        ] {
            assert_eq!(local.allow_origin(Some(no)), None, "{no}");
        }
        let fixed = CorsConfig {
            origins: "https://a.example".into(),
            credentials: false,
            ..CorsConfig::default()
        };
        assert_eq!(
            fixed.allow_origin(Some("https://b.example")).as_deref(),
            Some("https://a.example")
        );
    }
}
