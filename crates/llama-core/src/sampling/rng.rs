//! Mersenne Twister (MT19937) matching `std::mt19937`, so seeded runs can mirror llama.cpp.
//!
//! llama.cpp's `dist` sampler draws from `std::mt19937` through libstdc++'s
//! `uniform_real_distribution<double>`; reproducing both bit for bit means that, given the same
//! candidates, a seed below 2^32 picks the same token llama.cpp would.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The 32-bit Mersenne Twister with the C++ standard's parameters.
#[derive(Clone)]
pub struct Mt19937 {
    state: Box<[u32; N]>,
    index: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Mt19937 {
    /// Seeds like `std::mt19937(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut state = Box::new([0u32; N]);
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Self { state, index: N }
    }

    /// Seeds from a 64-bit value: seeds that fit in 32 bits seed exactly like `std::mt19937`
    /// (llama.cpp's seeds are 32-bit); larger ones go through the reference `init_by_array`
    /// with both halves, so they do not collide with the 32-bit ones by truncation.
    pub fn from_u64(seed: u64) -> Self {
        match u32::try_from(seed) {
            Ok(small) => Self::new(small),
            Err(_) => Self::from_key(&[seed as u32, (seed >> 32) as u32]),
        }
    }

    /// `init_by_array` from Matsumoto and Nishimura's reference code.
    fn from_key(key: &[u32]) -> Self {
        let mut mt = Self::new(19_650_218);
        let s = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = s[i - 1];
            s[i] = (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = s[i - 1];
            s[i] =
                (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
        }
        s[0] = UPPER_MASK;
        mt
    }

    fn twist(&mut self) {
        let s = &mut self.state;
        for i in 0..N {
            let y = (s[i] & UPPER_MASK) | (s[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            s[i] = s[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// Next 32-bit output, identical to `std::mt19937::operator()`.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Uniform double in [0, 1), as libstdc++'s `generate_canonical<double, 53>` builds it
    /// from two 32-bit draws (low word first).
    pub fn next_f64(&mut self) -> f64 {
        const TWO_POW_32: f64 = 4_294_967_296.0;
        let lo = f64::from(self.next_u32());
        let hi = f64::from(self.next_u32());
        let r = (lo + hi * TWO_POW_32) / (TWO_POW_32 * TWO_POW_32);
        // The rounding in the sum can reach 1.0; libstdc++ clamps to the largest double below it.
        if r >= 1.0 {
            1.0 - f64::EPSILON / 2.0
        } else {
            r
        }
    }
}

/// A seed for unseeded samplers: OS-keyed hashing mixed with the clock, no extra dependency.
pub fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_10000th_output_matches_cpp_standard() {
        // [rand.predef]: the 10000th consecutive invocation of a default-constructed
        // std::mt19937 (seed 5489) produces 4123659995.
        let mut mt = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = mt.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn init_by_array_matches_reference_first_outputs() {
        // mt19937ar.c's published test output for init_by_array({0x123, 0x234, 0x345, 0x456}).
        let mut mt = Mt19937::from_key(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| mt.next_u32()).collect();
        assert_eq!(
            first,
            [
                1_067_595_299,
                955_945_823,
                477_289_528,
                4_107_218_783,
                4_228_976_476
            ]
        );
    }

    #[test]
    fn next_f64_stays_in_unit_interval_and_uses_two_draws() {
        let mut a = Mt19937::new(42);
        let mut b = Mt19937::new(42);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert!((0.0..1.0).contains(&x));
            let lo = f64::from(b.next_u32());
            let hi = f64::from(b.next_u32());
            assert_eq!(
                x,
                (lo + hi * 4_294_967_296.0) / 18_446_744_073_709_551_616.0
            );
        }
    }

    #[test]
    fn next_f64_matches_libstdcxx_uniform_real_distribution() {
        // std::uniform_real_distribution<double>(0, 1) over std::mt19937(42), g++ 12.
        let want = [
            0.796_542_984_287_846,
            0.183_434_787_893_368_48,
            0.779_690_997_612_661_3,
            0.596_850_161_580_056_5,
        ];
        let mut mt = Mt19937::new(42);
        for w in want {
            assert_eq!(mt.next_f64(), w);
        }
    }

    #[test]
    fn seeds_differing_only_in_high_bits_give_different_streams() {
        let mut a = Mt19937::from_u64(7);
        let mut b = Mt19937::from_u64(7 | (1 << 40));
        let sa: Vec<u32> = (0..8).map(|_| a.next_u32()).collect();
        let sb: Vec<u32> = (0..8).map(|_| b.next_u32()).collect();
        assert_ne!(sa, sb);
    }

    #[test]
    fn random_seeds_vary_between_calls() {
        let seeds: std::collections::HashSet<u64> = (0..8).map(|_| random_seed()).collect();
        assert!(seeds.len() > 1);
    }
}
