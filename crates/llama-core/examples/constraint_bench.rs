//! Token generation speed with and without a JSON-schema constraint on the same chat prompt:
//! `cargo run --release -p llama-core --example constraint_bench -- MODEL [N_GEN] [REPS]`.
//!
//! Each repetition generates greedily from the same prompt, unconstrained and then under a
//! schema that keeps the model writing (an array of at least 40 strings), timing only the
//! generation loop (decode + sampling + mask). Prints tokens/s of both, their ratio and the
//! mean mask time per token.
#![allow(clippy::unwrap_used)] // a benchmark: failures should stop it loudly

use llama_core::chat::ChatMessage;
use llama_core::sampling::{Constraint, ConstraintSpec, Sampler, SamplingParams};
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Run {
    tokens: usize,
    elapsed: Duration,
    mask: Duration,
}

fn generate(model: &Arc<Model>, prompt: &[u32], n_gen: usize, c: Option<Constraint>) -> Run {
    let mut ctx = Context::new(
        model.clone(),
        ContextParams {
            n_ctx: prompt.len() + n_gen + 8,
            ..ContextParams::default()
        },
    )
    .unwrap();
    let mut sampler = Sampler::new(SamplingParams::greedy());
    sampler.set_constraint(c);
    let mut batch = Batch::new();
    batch.add_sequence(prompt, 0, 0, true);
    ctx.decode(&batch).unwrap();
    let start = Instant::now();
    let mut tokens = 0;
    for pos in (prompt.len() as i32..).take(n_gen) {
        let t = sampler
            .sample(ctx.logits(batch.len() - 1).unwrap())
            .unwrap();
        sampler.accept_sampled(t).unwrap();
        tokens += 1;
        if model.vocab().is_eog(t) {
            break;
        }
        batch.clear();
        batch.add(t, pos, 0, true);
        ctx.decode(&batch).unwrap();
    }
    let mask = sampler
        .constraint()
        .map_or(Duration::ZERO, |c| c.mask_totals().0);
    Run {
        tokens,
        elapsed: start.elapsed(),
        mask,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: constraint_bench MODEL [N_GEN] [REPS]");
    let n_gen: usize = args.get(2).map_or(128, |s| s.parse().unwrap());
    let reps: usize = args.get(3).map_or(3, |s| s.parse().unwrap());
    let model = Arc::new(Model::load(path, &ModelParams::default(), &mut |_, _| {}).unwrap());
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"cities": {"type": "array", "items": {"type": "string"}, "minItems": 40}},
        "required": ["cities"]
    });
    let spec = ConstraintSpec::JsonSchema(schema);
    let text = model
        .chat_template()
        .unwrap()
        .render(
            &[ChatMessage::new(
                "user",
                "List as many world cities as you can, as JSON.",
            )],
            true,
        )
        .unwrap();
    let prompt = model.vocab().tokenize(&text, true, true);
    let t0 = Instant::now();
    let env = model.constraint_env().unwrap();
    println!("token trie + parser factory: {:.1} ms", ms(t0.elapsed()));
    let (mut free, mut constrained) = (Vec::new(), Vec::new());
    for rep in 0..=reps {
        let a = generate(&model, &prompt, n_gen, None);
        let t1 = Instant::now();
        let c = Constraint::new(env.clone(), &spec).unwrap();
        let compile = t1.elapsed();
        let b = generate(&model, &prompt, n_gen, Some(c));
        println!(
            "rep {rep}: free {} tok {:.2} tok/s | constrained {} tok {:.2} tok/s, \
             mask {:.3} ms/token, schema compile {:.1} ms",
            a.tokens,
            rate(&a),
            b.tokens,
            rate(&b),
            ms(b.mask) / b.tokens as f64,
            ms(compile)
        );
        // Repetition 0 warms caches up and is not counted.
        if rep > 0 {
            free.push(rate(&a));
            constrained.push(rate(&b));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "tg free {:.2} tok/s, constrained {:.2} tok/s, ratio {:.3}",
        mean(&free),
        mean(&constrained),
        mean(&constrained) / mean(&free)
    );
}

fn rate(r: &Run) -> f64 {
    r.tokens as f64 / r.elapsed.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
