//! Request bodies: their serde shapes ([`request`]), the generation settings they turn into
//! ([`params`]) and the prompt tokens they describe ([`prompt`]); embedding requests and
//! responses ([`embed`]). No HTTP here.

pub mod embed;
pub mod params;
pub mod prompt;
pub mod request;
