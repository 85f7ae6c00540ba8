//! Qwen2.5-Coder-0.5B-Instruct, prompted through its own chat template with a weather tool,
//! writes a call that the Hermes parser reads, whole and streamed token by token. (Greedy, it
//! writes the call as a ```json block without `<tool_call>` tags: llama.cpp's lenient Hermes
//! reading, which ours follows, is what catches it.)
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use common::reference::{greedy_run, QWEN2};
use llama_core::chat::toolcall::{
    parse, ParserOptions, ReasoningFormat, StreamParser, ToolCallFormat, ToolChoice,
};
use llama_core::chat::{ChatInputs, ChatMessage, ChatTool};
use serde_json::{json, Value as Json};

#[test]
fn qwen25_coder_calls_the_weather_tool() {
    let Some(mut ctx) = QWEN2.context(2048) else {
        return;
    };
    let model = std::sync::Arc::clone(ctx.model());
    let template = model.chat_template().expect("Qwen2.5 has a template");
    let tools = ChatTool::parse_oaicompat(&json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]))
    .unwrap();
    let messages = vec![ChatMessage::new(
        "user",
        "What is the weather in Paris right now?",
    )];
    let mut inputs = ChatInputs::new(&messages);
    inputs.tools = &tools;
    let prompt = template.apply(&inputs).unwrap();
    let opts = ParserOptions::for_request(
        template,
        &prompt,
        &tools,
        &ToolChoice::Auto,
        ReasoningFormat::Auto,
    );
    assert_eq!(opts.format, ToolCallFormat::Hermes);

    let vocab = model.vocab();
    let (tokens, _) = greedy_run(&mut ctx, &vocab.tokenize(&prompt, true, true), 48);
    let text = vocab.detokenize(&tokens);
    let msg = parse(&text, &opts);
    eprintln!("model wrote {text:?}");
    assert_eq!(msg.tool_calls.len(), 1, "{text:?}");
    assert_eq!(msg.tool_calls[0].name, "get_weather");
    let args: Json = serde_json::from_str(&msg.tool_calls[0].arguments).unwrap();
    assert!(args["city"].as_str().unwrap().contains("Paris"), "{args}");

    // Token by token, the stream announces the same call and sends no markup as content.
    let mut stream = StreamParser::new(opts.clone(), || "call_0".into());
    let mut streamed = String::new();
    for &t in &tokens {
        let piece = vocab.detokenize(&[t]);
        for d in stream.push(&piece).tool_calls {
            streamed.push_str(&d.arguments);
        }
    }
    let (last, fin) = stream.finish();
    streamed.extend(last.tool_calls.iter().map(|d| d.arguments.as_str()));
    assert_eq!(streamed, fin.tool_calls[0].arguments);
    assert_eq!(fin.content.trim(), msg.content.trim());
}
