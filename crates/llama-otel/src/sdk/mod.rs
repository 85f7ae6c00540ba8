//! SDK setup behind `init()` (otel builds): exporters, providers, resource, drop counting and
//! bounded shutdown.

pub(crate) mod dropped;
mod exporters;
mod lifecycle;
mod pipeline;
mod resource;

#[cfg(feature = "testing")]
pub(crate) use lifecycle::Parts;
pub(crate) use lifecycle::Sdk;
pub(crate) use pipeline::start;
