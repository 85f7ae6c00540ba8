//! SDK setup behind `init()` (otel builds): exporters, providers, resource, drop counting and
//! bounded shutdown.

pub(crate) mod dropped;
mod dropped_logs;
mod exporters;
mod lifecycle;
mod limits;
pub(crate) mod logs;
mod pipeline;
pub(crate) mod propagation;
mod resource;
pub(crate) mod ring;
mod selfobs;
mod tls;

#[cfg(feature = "testing")]
pub(crate) use lifecycle::Parts;
pub(crate) use lifecycle::Sdk;
pub(crate) use pipeline::start;
