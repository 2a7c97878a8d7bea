//! The small PRNG of the corpus generators (`nmt corpus toy`, `nmt corpus planted`) and of BPE-dropout:
//! the same seed must give the same corpus (and the same training run) byte for byte, on every platform
//! and with every version of the dependencies.

/// SplitMix64 (Steele, Lea & Flood, 2014), written out here rather than taken from `rand`: the
/// committed corpus must stay regenerable byte for byte, and `rand` documents that `StdRng`'s
/// algorithm may change between versions.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias, below n / 2^64, does not matter here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `pct` / 100.
    pub(crate) fn percent(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    /// One item of a non-empty slice (every table and filter of the generators is non-empty by construction).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
