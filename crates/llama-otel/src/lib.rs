//! Telemetry macros (placeholder until the telemetry crate lands).
