//! A fixed-size log-linear latency histogram (HDR-like): exact below 128, then 64 sub-buckets per power of two,
//! so any recorded value is reported within 1.6 % of itself. Recording never allocates.

/// Values below this are counted exactly.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 64;
/// Enough buckets for every `u64`: 128 exact, then 57 octaves of 64.
const BUCKETS: usize = (LINEAR + 57 * SUB) as usize;

/// Counts of values (microseconds, by convention of this crate) in log-linear buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
    min: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0, max: 0, min: u64::MAX, sum: 0 }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish()
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    // `shift` >= 1: the value has 8 or more significant bits; keep the top 7.
    let shift = (64 - value.leading_zeros()) as u64 - 7;
    let mantissa = value >> shift; // in [64, 128)
    (LINEAR + (shift - 1) * SUB + (mantissa - SUB)) as usize
}

/// The largest value that lands in bucket `index`.
fn upper(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = (index - LINEAR) / SUB + 1;
    let mantissa = (index - LINEAR) % SUB + SUB;
    // Saturates in the very last bucket (values near u64::MAX).
    ((mantissa + 1) << shift).wrapping_sub(1).max(mantissa << shift)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one value.
    pub fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
        self.min = self.min.min(value);
        self.sum += u128::from(value);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.min = self.min.min(other.min);
        self.sum += other.sum;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The smallest value recorded (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// The arithmetic mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0.0–1.0): the upper edge of the bucket holding the ⌈q·n⌉-th smallest value,
    /// capped by the maximum recorded. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper(i).min(self.max).max(self.min());
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_128_and_within_two_percent_above() {
        for v in 0..LINEAR {
            assert_eq!(upper(index(v)), v);
        }
        for v in [128u64, 129, 200, 1_000, 12_345, 999_999, 10_000_000_000, u64::MAX / 3, u64::MAX] {
            let up = upper(index(v));
            assert!(up >= v, "{v} -> {up}");
            assert!((up - v) as f64 <= v as f64 * 0.016, "{v} -> {up}");
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5);
        let p99 = h.quantile(0.99);
        assert!((5_000..=5_080).contains(&p50), "{p50}");
        assert!((9_900..=10_000).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), 10_000);
        assert_eq!(h.min(), 1);
        assert!((h.mean() - 5_000.5).abs() < 1e-9);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        b.record(1_000);
        b.record(1_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.34), 1_000.min(upper(index(1_000))));
        assert_eq!(a.quantile(0.3), 10);
        assert_eq!(Histogram::new().quantile(0.5), 0);
    }
}
