use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use std::sync::Arc;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let fa = std::env::var("FA").map(|v| v != "0").unwrap_or(true);
    let model = Arc::new(Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap());
    println!("{:?}", model.info());
    let mut ctx = Context::new(
        model,
        ContextParams {
            n_ctx: 512,
            n_threads: 2,
            flash_attn: fa,
            ..Default::default()
        },
    )
    .unwrap();
    let prompt = [504u32, 3575, 282, 4649, 314];
    let mut b = Batch::new();
    b.add_sequence(&prompt, 0, 0, true);
    ctx.decode(&b).unwrap();
    let l = ctx.logits(prompt.len() - 1).unwrap().to_vec();
    let max = l.iter().cloned().fold(f32::MIN, f32::max);
    let lse = max + l.iter().map(|x| (x - max).exp()).sum::<f32>().ln();
    let mut idx: Vec<usize> = (0..l.len()).collect();
    idx.sort_by(|&a, &b| l[b].partial_cmp(&l[a]).unwrap());
    for &i in &idx[..5] {
        println!("{i} {}", l[i] - lse);
    }
    let mut toks = vec![];
    let mut pos = prompt.len() as i32;
    let mut next = idx[0] as u32;
    let t0 = std::time::Instant::now();
    for _ in 0..48 {
        toks.push(next);
        b.clear();
        b.add(next, pos, 0, true);
        pos += 1;
        ctx.decode(&b).unwrap();
        let l = ctx.logits(0).unwrap();
        next = (0..l.len())
            .max_by(|&a, &c| l[a].partial_cmp(&l[c]).unwrap().then(c.cmp(&a)))
            .unwrap() as u32;
    }
    println!("{:?}", toks);
    println!("tg: {:.1} t/s", 48.0 / t0.elapsed().as_secs_f64());
}
