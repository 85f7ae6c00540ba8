//! `--sleep-idle-seconds`, as llama.cpp's server: after that long without work the engine frees
//! its context (KV cache, compute buffers, graph) and every slot forgets its prompt cache;
//! the next command that needs the engine makes a new context with the same parameters.
//! `/metrics` scrapes are answered while asleep without waking it. llama.cpp also unloads the
//! weights; here they stay mapped, because the HTTP side shares the model (vocabulary, chat
//! template) — the freed memory is the context's.

use super::Engine;
use crate::metrics::Gauges;
use crate::scheduler::Command;
use llama_core::Context;
use llama_otel::{counter_add, gauge_set, names, span};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Telemetry of one transition (`sleep` or `wake`).
fn transition(to: &'static str) {
    gauge_set!(names::SERVER_SLEEPING, if to == "sleep" { 1.0 } else { 0.0 }, unit: names::UNIT_RATIO,
        description: "1 while the server sleeps (--sleep-idle-seconds), else 0");
    counter_add!(names::SERVER_SLEEP_TRANSITIONS, 1, unit: names::UNIT_TRANSITION,
        description: "Times the server fell asleep or woke up", [names::SLEEP_TRANSITION] = to);
}

impl Engine {
    /// Frees the context and waits for a command that needs it: the engine with a new context,
    /// or `None` when it should exit (shutdown, or the context cannot be made again).
    pub(super) fn sleep(mut self) -> Option<Engine> {
        let model = self.ctx.model().clone();
        let params = self.ctx.params().clone();
        {
            let _span = span!("llama.server.sleep");
            for slot in &mut self.slots {
                slot.cache.clear();
            }
            self.prefix.forget_all();
            drop(self.ctx);
        }
        self.sleeping.store(true, Ordering::SeqCst);
        transition("sleep");
        tracing::info!("server is entering sleeping state (context freed)");
        let woken_by = loop {
            match self.rx.recv() {
                Ok(Command::Metrics(reply)) => {
                    let gauges = Gauges {
                        n_ctx: params.n_ctx,
                        ..Gauges::default()
                    };
                    let _ = reply.send(self.counters.snapshot(gauges));
                }
                Ok(Command::CancelAll) => {}
                Ok(Command::Shutdown) | Err(_) => return None,
                Ok(cmd) => break cmd,
            }
        };
        let t0 = Instant::now();
        let ctx = {
            let _span = span!("llama.server.wake");
            Context::new(model, params)
        };
        let mut ctx = match ctx {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::error!("failed to make the context again after sleeping: {e}");
                return None;
            }
        };
        ctx.set_op_timing(self.config.op_timing);
        self.ctx = ctx;
        self.sleeping.store(false, Ordering::SeqCst);
        self.last_active = Instant::now();
        transition("wake");
        tracing::info!(
            "server is exiting sleeping state (context made in {:.2} s)",
            t0.elapsed().as_secs_f64()
        );
        self.command(woken_by);
        Some(self)
    }
}
