//! The request shapes bench_clients can send, generated in code (deterministic, no downloads):
//! `chat` (one short question per request), `shared-prefix` (a ~1,500-token system prompt every
//! client shares, then a distinct question), `multi-turn` (each turn re-sends the whole
//! conversation, the server's earlier answers included) and `repetitive` (a text to copy with a
//! small edit, so the output is predictable from the prompt).

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Chat,
    SharedPrefix,
    MultiTurn,
    Repetitive,
}

impl Workload {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "chat" => Workload::Chat,
            "shared-prefix" => Workload::SharedPrefix,
            "multi-turn" => Workload::MultiTurn,
            "repetitive" => Workload::Repetitive,
            other => {
                return Err(format!(
                    "unknown workload {other} (chat, shared-prefix, multi-turn, repetitive)"
                ))
            }
        })
    }
}

/// Topics the generated texts cycle through (deterministic variety).
const TOPICS: [&str; 12] = [
    "billing",
    "shipping",
    "returns",
    "warranty",
    "accounts",
    "passwords",
    "invoices",
    "refunds",
    "deliveries",
    "subscriptions",
    "discounts",
    "privacy",
];

/// A support-agent system prompt of about 1,500 tokens (SmolLM2's tokenizer: ~25 per rule).
pub fn system_prompt() -> String {
    let mut s = String::from(
        "You are a support assistant for Example Corp. Follow every rule below exactly.\n",
    );
    for i in 0..45 {
        let topic = TOPICS[i % TOPICS.len()];
        s.push_str(&format!(
            "Rule {}: when a customer asks about {topic}, check the account, quote policy \
             section {}.{} and answer politely in at most three sentences.\n",
            i + 1,
            i / 7 + 1,
            i % 7 + 1
        ));
    }
    s
}

/// A block of code to be copied back with one change (the `repetitive` workload).
fn code_block(client: usize) -> String {
    let mut s = String::new();
    for i in 0..24 {
        s.push_str(&format!(
            "def handle_{}_{i}(request):\n    value = request.get(\"{}\")\n    return value * {}\n",
            TOPICS[(i + client) % TOPICS.len()],
            TOPICS[i % TOPICS.len()],
            i + 2
        ));
    }
    s
}

/// The messages of request `turn` (0-based) of `client`; `history` holds the earlier turns'
/// user and assistant messages (only `multi-turn` uses it).
pub fn messages(w: Workload, client: usize, turn: usize, history: &[Value]) -> Vec<Value> {
    let topic = TOPICS[(client + turn) % TOPICS.len()];
    match w {
        Workload::Chat => vec![json!({"role": "user",
            "content": format!("Client {client}: tell me a long story.")})],
        Workload::SharedPrefix => vec![
            json!({"role": "system", "content": system_prompt()}),
            json!({"role": "user", "content": format!(
                "Customer {client}, question {turn}: what should I know about {topic}?")}),
        ],
        Workload::MultiTurn => {
            let mut m = vec![json!({"role": "system", "content": "You are a helpful assistant."})];
            m.extend_from_slice(history);
            m.push(json!({"role": "user", "content": format!(
                "Conversation {client}, turn {turn}: tell me more about {topic}.")}));
            m
        }
        Workload::Repetitive => vec![json!({"role": "user", "content": format!(
            "Copy this code exactly, but rename every `value` to `result`:\n\n{}",
            code_block(client + turn))})],
    }
}
