//! The extra llama.cpp stages inside [`Sampler`]'s chain: order, greedy behaviour and seeding.
#![allow(clippy::unwrap_used)]

use super::params::SamplingParams;
use super::sampler::Sampler;

fn ln(probs: &[f32]) -> Vec<f32> {
    probs.iter().map(|p| p.ln()).collect()
}

#[test]
fn logit_bias_bans_and_boosts_before_everything_else() {
    let logits = [3.0f32, 2.0, 1.0, 0.0];
    let mut s = Sampler::new(SamplingParams {
        logit_bias: vec![(0, f32::NEG_INFINITY)],
        ..SamplingParams::greedy()
    });
    assert_eq!(s.sample(&logits).unwrap(), 1);
    let mut s = Sampler::new(SamplingParams {
        logit_bias: vec![(3, 10.0)],
        seed: Some(1),
        ..SamplingParams::default()
    });
    for _ in 0..50 {
        // 10.0 vs 3.0: min-p 0.05 leaves token 3 alone.
        assert_eq!(s.sample(&logits).unwrap(), 3);
    }
}

#[test]
fn typical_can_drop_the_argmax_even_when_greedy() {
    // llama.cpp's test case: typical 0.5 over [0.4, 0.2, 0.2, 0.2] keeps [1, 2, 3]; then
    // temperature 0 keeps the first of them.
    let mut s = Sampler::new(SamplingParams {
        typical_p: 0.5,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        ..SamplingParams::greedy()
    });
    assert_eq!(s.sample(&ln(&[0.4, 0.2, 0.2, 0.2])).unwrap(), 1);
}

#[test]
fn xtc_with_certain_chance_removes_all_top_choices_but_the_last() {
    let probs = ln(&[0.4, 0.3, 0.2, 0.1]);
    for temperature in [0.0f32, 1.0] {
        let mut s = Sampler::new(SamplingParams {
            xtc_probability: 1.0,
            xtc_threshold: 0.09,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            temperature,
            seed: Some(3),
            ..SamplingParams::default()
        });
        for _ in 0..20 {
            assert_eq!(s.sample(&probs).unwrap(), 3, "temperature {temperature}");
        }
    }
}

#[test]
fn top_n_sigma_in_chain_never_picks_far_tails() {
    let mut logits = vec![0.0f32; 100];
    logits[7] = 10.0;
    logits[8] = 9.5;
    let mut s = Sampler::new(SamplingParams {
        top_n_sigma: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        temperature: 5.0,
        seed: Some(11),
        ..SamplingParams::default()
    });
    for _ in 0..200 {
        let t = s.sample(&logits).unwrap();
        assert!(t == 7 || t == 8, "{t}");
    }
}

#[test]
fn mirostat_replaces_the_chain_and_is_reproducible_per_seed() {
    let stream = |i: u32| -> Vec<f32> {
        (0..500u32)
            .map(|j| ((j * 7919 + i * 104_729) % 1000) as f32 / 150.0)
            .collect()
    };
    for version in [1u8, 2] {
        let run = |repeat_penalty: f32, seed: u64| {
            let mut s = Sampler::new(SamplingParams {
                mirostat: version,
                repeat_penalty,
                seed: Some(seed),
                ..SamplingParams::default()
            });
            (0..40)
                .map(|i| {
                    let t = s.sample(&stream(i)).unwrap();
                    s.accept(t);
                    t
                })
                .collect::<Vec<u32>>()
        };
        let a = run(1.0, 5);
        assert_eq!(a, run(1.0, 5), "v{version}");
        // llama.cpp's Mirostat chain has no penalties stage.
        assert_eq!(a, run(2.0, 5), "v{version}");
        assert_ne!(a, run(1.0, 6), "v{version}");
    }
}

#[test]
fn dry_penalizes_the_token_that_would_extend_a_repeat() {
    // History 0 1 2 0 1: token 2 would extend "0 1"; DRY multiplier 5 makes 1 win greedily
    // over the otherwise best 2.
    let logits = [0.0f32, 1.0, 1.5];
    for (multiplier, want) in [(0.0f32, 2u32), (5.0, 1)] {
        let mut s = Sampler::new(SamplingParams {
            dry_multiplier: multiplier,
            dry_allowed_length: 1,
            ..SamplingParams::greedy()
        });
        for t in [0, 1, 2, 0, 1] {
            s.accept(t);
        }
        assert_eq!(s.sample(&logits).unwrap(), want, "multiplier {multiplier}");
    }
}
