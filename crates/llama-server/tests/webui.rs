//! The built-in live view in every build: `GET /` serves the page without the API key (as
//! llama.cpp leaves its UI open), `--no-webui` turns it off, and without the `otel` feature
//! `/debug/traces` answers 404 with a message saying why.

mod common;

use common::Server;

fn get_anonymous(s: &Server, path: &str) -> common::Response {
    s.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ))
    .expect("request")
}

#[test]
fn the_page_is_served_open_and_no_webui_turns_it_off() {
    let Some(s) = Server::start(&["-c", "256", "-np", "1", "--api-key", "sk-ui"]) else {
        return;
    };
    for path in ["/", "/index.html"] {
        let page = get_anonymous(&s, path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.body.contains("<title>llama-server · live</title>"));
        assert!(page.body.contains("/debug/traces"));
    }
    assert_eq!(
        get_anonymous(&s, "/debug/traces").status,
        401,
        "/debug/traces needs the API key"
    );
    drop(s);
    let Some(off) = Server::start(&["-c", "256", "-np", "1", "--no-webui"]) else {
        return;
    };
    assert_eq!(get_anonymous(&off, "/").status, 404);
    assert_eq!(get_anonymous(&off, "/health").status, 200);
}

#[cfg(not(feature = "otel"))]
#[test]
fn without_otel_debug_traces_is_404_with_a_message_and_the_page_still_loads() {
    let Some(s) = Server::start(&["-c", "256", "-np", "1"]) else {
        return;
    };
    let r = s.get("/debug/traces?limit=5").expect("request");
    assert_eq!(r.status, 404, "{}", r.body);
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("`otel` feature"), "{message}");
    assert_eq!(s.get("/").expect("page").status, 200);
}
