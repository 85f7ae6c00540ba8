//! The API layer, no HTTP here: request bodies, their serde shapes ([`request`]), the generation
//! settings they turn into ([`params`]) and the prompt tokens they describe ([`prompt`]);
//! embedding requests ([`embed`]); fill-in-the-middle prompts ([`infill`]); a chat request's
//! tools ([`tools`]); Anthropic Messages and OpenAI Responses requests read as chat requests
//! ([`anthropic`], [`responses`]); every response body and stream chunk ([`response`]).

pub mod anthropic;
pub mod apply_template;
pub mod constraint;
pub mod embed;
pub mod infill;
pub mod params;
pub mod prefill;
pub mod prompt;
pub mod prompts;
pub mod request;
pub mod response;
pub mod responses;
pub mod tools;
pub mod unsupported;
