//! Request bodies: their serde shapes ([`request`]), the generation settings they turn into
//! ([`params`]) and the prompt tokens they describe ([`prompt`]). No HTTP here.

pub mod params;
pub mod prompt;
pub mod request;
