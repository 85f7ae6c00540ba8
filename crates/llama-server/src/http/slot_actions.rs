//! `POST /slots/{id_slot}?action=save|restore|erase` as llama.cpp serves it (501 without
//! `--slot-save-path`, "Invalid slot ID", "Invalid filename", "Invalid action"), and the
//! middleware that wakes a sleeping engine before the requests that need it.

use super::AppState;
use crate::error::{Result, ServerError};
use crate::scheduler::slot_action::{validate_filename, SlotActionKind};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// The `action` parameter of a query string (empty when absent).
fn action_param(query: Option<&str>) -> &str {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("action="))
        .unwrap_or_default()
}

/// The `filename` of a save or restore body.
fn filename(body: &Bytes) -> Result<String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ServerError::InvalidJson(e.to_string()))?;
    let name = v
        .get("filename")
        .and_then(Value::as_str)
        .ok_or_else(|| ServerError::BadRequest("\"filename\" (a string) is required".into()))?;
    if !validate_filename(name) {
        return Err(ServerError::BadRequest("Invalid filename".into()));
    }
    Ok(name.to_owned())
}

/// `POST /slots/{id_slot}?action=...`.
pub async fn post_slot(
    State(state): State<AppState>,
    Path(id_slot): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>> {
    let Some(dir) = state.config().slot_save_path.clone() else {
        return Err(ServerError::NotSupported(
            "This server does not support slots action. Start it with `--slot-save-path`".into(),
        ));
    };
    // std::stoi: leading digits count ("1abc" is slot 1), as llama.cpp reads the id.
    let digits: String = {
        let t = id_slot.trim_start();
        let sign = usize::from(t.starts_with(['-', '+']));
        let n = t[sign..].chars().take_while(char::is_ascii_digit).count();
        t[..sign + n].to_owned()
    };
    let id: i64 = digits
        .parse()
        .map_err(|_| ServerError::BadRequest("Invalid slot ID".into()))?;
    let kind = match action_param(query.as_deref()) {
        "save" => {
            let filename = filename(&body)?;
            let path = dir.join(&filename);
            SlotActionKind::Save { filename, path }
        }
        "restore" => {
            let filename = filename(&body)?;
            let path = dir.join(&filename);
            SlotActionKind::Restore { filename, path }
        }
        "erase" => SlotActionKind::Erase,
        _ => return Err(ServerError::BadRequest("Invalid action".into())),
    };
    let ready = state.ready()?;
    let done = ready.sched.slot_action(id, kind).await?;
    Ok(Json(done.to_json()))
}

/// Routes a sleeping engine stays asleep for (llama.cpp serves them from cached state).
const READ_ONLY: [&str; 6] = [
    "/props",
    "/models",
    "/v1/models",
    "/metrics",
    "/debug/traces",
    "/",
];

/// Wakes the engine (`--sleep-idle-seconds`) before any request but the read-only ones, as
/// llama.cpp does (tokenizing wakes it there too).
pub async fn wake_engine(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let read_only =
        req.method() == axum::http::Method::GET && READ_ONLY.contains(&req.uri().path());
    if !read_only {
        if let Ok(ready) = state.ready() {
            if let Err(e) = ready.sched.wake().await {
                return e.into_response();
            }
        }
    }
    next.run(req).await
}
