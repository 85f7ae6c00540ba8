//! Blocking plain HTTP (ureq) for health checks, the server's API and Prometheus' query API.

use anyhow::{Context, Result};
use std::io::Read;
use std::time::Duration;

/// Status and body of one answer (any status: callers look at it themselves).
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// A client whose whole exchange (connect, send, receive) must finish within `timeout`.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

fn finish(
    what: &str,
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response> {
    let mut r = answer.with_context(|| what.to_string())?;
    let body = r
        .body_mut()
        .read_to_string()
        .with_context(|| format!("{what}: body"))?;
    Ok(Response {
        status: r.status().as_u16(),
        body,
    })
}

/// `GET http://{addr}{path}`.
pub(crate) fn get(addr: &str, path: &str, timeout: Duration) -> Result<Response> {
    let answer = agent(timeout).get(format!("http://{addr}{path}")).call();
    finish(&format!("GET {path}"), answer)
}

/// `POST http://{addr}{path}` with a JSON body.
pub(crate) fn post_json(addr: &str, path: &str, body: &str, timeout: Duration) -> Result<Response> {
    let answer = agent(timeout)
        .post(format!("http://{addr}{path}"))
        .header("Content-Type", "application/json")
        .send(body);
    finish(&format!("POST {path}"), answer)
}

/// `POST http://{addr}{path}` with a form body (`application/x-www-form-urlencoded`).
pub(crate) fn post_form(
    addr: &str,
    path: &str,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response> {
    let answer = agent(timeout)
        .post(format!("http://{addr}{path}"))
        .send_form(form.iter().copied());
    finish(&format!("POST {path}"), answer)
}

/// Posts a streamed request and hangs up once the answer contains `until` (a client that goes
/// away mid-stream).
pub(crate) fn abandon_stream(addr: &str, path: &str, body: &str, until: &str) -> Result<()> {
    let r = agent(Duration::from_secs(60))
        .post(format!("http://{addr}{path}"))
        .header("Content-Type", "application/json")
        .send(body)?;
    let mut reader = r.into_body().into_reader();
    let (mut seen, mut buf) = (Vec::new(), [0u8; 512]);
    while !String::from_utf8_lossy(&seen).contains(until) {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(())
}
