//! Pooling of per-token hidden states into one vector per sequence, and llama.cpp's
//! `common_embd_normalize`.

use crate::error::{Error, Result};

/// How token vectors become a sequence vector (llama.cpp's `llama_pooling_type`, without `rank`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// No pooling: one vector per token.
    None,
    /// Average over the sequence's tokens.
    Mean,
    /// The first token's vector (`[CLS]`).
    Cls,
    /// The last token's vector.
    Last,
}

impl Pooling {
    /// From llama.cpp's integer (`{arch}.pooling_type`): 0 none, 1 mean, 2 cls, 3 last.
    pub fn from_llama(value: u32) -> Result<Self> {
        match value {
            0 => Ok(Pooling::None),
            1 => Ok(Pooling::Mean),
            2 => Ok(Pooling::Cls),
            3 => Ok(Pooling::Last),
            other => Err(Error::Embed(format!(
                "unsupported pooling type {other} (rank pooling is not implemented)"
            ))),
        }
    }

    /// The `--pooling` flag's names.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::None => "none",
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }

    /// Pools the rows of `hidden` (`n_tokens` rows of `n_embd` floats, one sequence):
    /// one vector, or one per token for [`Pooling::None`].
    pub fn apply(self, hidden: &[f32], n_embd: usize) -> Vec<Vec<f32>> {
        let rows = || hidden.chunks_exact(n_embd);
        match self {
            Pooling::None => rows().map(<[f32]>::to_vec).collect(),
            Pooling::Cls => rows().next().map(<[f32]>::to_vec).into_iter().collect(),
            Pooling::Last => rows().last().map(<[f32]>::to_vec).into_iter().collect(),
            Pooling::Mean => {
                let n = rows().len();
                let mut sum = vec![0f64; n_embd];
                for row in rows() {
                    for (s, &x) in sum.iter_mut().zip(row) {
                        *s += f64::from(x);
                    }
                }
                vec![sum.iter().map(|&s| (s / n.max(1) as f64) as f32).collect()]
            }
        }
    }
}

impl std::str::FromStr for Pooling {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Pooling::None),
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            "last" => Ok(Pooling::Last),
            other => Err(Error::Embed(format!(
                "unknown pooling '{other}' (none, mean, cls, last)"
            ))),
        }
    }
}

/// llama.cpp's `common_embd_normalize`: -1 none, 0 max-abs scaled to the int16 range,
/// 2 euclidean, any other p the p-norm (1 = taxicab). A zero vector stays zero.
pub fn normalize(v: &mut [f32], embd_normalize: i32) {
    let sum: f64 = match embd_normalize {
        -1 => 1.0,
        0 => v.iter().fold(0.0f64, |m, &x| m.max(f64::from(x.abs()))) / 32760.0,
        2 => v.iter().map(|&x| f64::from(x * x)).sum::<f64>().sqrt(),
        p => v
            .iter()
            .map(|&x| f64::from(x.abs()).powi(p))
            .sum::<f64>()
            .powf(1.0 / f64::from(p)),
    };
    let norm = if sum > 0.0 { (1.0 / sum) as f32 } else { 0.0 };
    for x in v {
        *x *= norm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_picks_rows_or_averages() {
        let h = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 3 tokens of 2
        assert_eq!(Pooling::Mean.apply(&h, 2), vec![vec![3.0, 4.0]]);
        assert_eq!(Pooling::Cls.apply(&h, 2), vec![vec![1.0, 2.0]]);
        assert_eq!(Pooling::Last.apply(&h, 2), vec![vec![5.0, 6.0]]);
        assert_eq!(Pooling::None.apply(&h, 2).len(), 3);
        assert_eq!("cls".parse::<Pooling>().unwrap(), Pooling::Cls);
        assert!("rank".parse::<Pooling>().is_err());
        assert_eq!(Pooling::from_llama(1).unwrap(), Pooling::Mean);
        assert!(Pooling::from_llama(4).is_err());
    }

    #[test]
    fn normalisations_follow_common_embd_normalize() {
        let mut v = [3.0, -4.0];
        normalize(&mut v, 2);
        assert_eq!(v, [0.6, -0.8]);
        let mut v = [3.0, -4.0];
        normalize(&mut v, 1);
        assert!((v[0] - 3.0 / 7.0).abs() < 1e-7 && (v[1] + 4.0 / 7.0).abs() < 1e-7);
        let mut v = [3.0, -4.0];
        normalize(&mut v, 0);
        assert_eq!(v, [3.0 * 32760.0 / 4.0, -32760.0]);
        let mut v = [3.0, -4.0];
        normalize(&mut v, -1);
        assert_eq!(v, [3.0, -4.0]);
        let mut v = [3.0, -4.0];
        normalize(&mut v, 3);
        let p3 = (27.0f64 + 64.0).powf(1.0 / 3.0) as f32;
        assert!((v[1] + 4.0 / p3).abs() < 1e-6);
        let mut z = [0.0, 0.0];
        normalize(&mut z, 2);
        assert_eq!(z, [0.0, 0.0]);
    }
}
