//! Workloads shared by the tokengate examples: ports of the original Python
//! system's demo operations (`demo/cpu_ops.py`, `demo/series_ops.py`), each as
//! a plain fn (for serial reference runs) and a guarded fn with the original's
//! operation name and weight, plus a tiny deterministic random number generator.
//!
//! The plain fns are in [`plain`]; the guarded ones at the crate root call them,
//! so a guarded call and its serial replay run exactly the same code.

use tokengate::task_token_guard;

/// The workloads as plain fns: what each guarded fn runs on its worker.
pub mod plain {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    /// `x²`.
    pub fn trivial(x: u64) -> u64 {
        x * x
    }

    /// `Σ i` for `i < n`, as a loop.
    pub fn simple(n: u64) -> u64 {
        (0..black_box(n)).fold(0, |acc, i| black_box(acc + i))
    }

    /// Builds `[2i for i < size]`, keeps the multiples of 3, sums them.
    pub fn moderate(size: u64) -> u64 {
        let list: Vec<u64> = (0..black_box(size)).map(|i| 2 * i).collect();
        list.into_iter().filter(|v| v % 3 == 0).sum()
    }

    /// Builds a `dim`×`dim` matrix of `i·j` and sums it.
    pub fn complex(dim: u64) -> u64 {
        let dim = black_box(dim);
        let matrix: Vec<Vec<u64>> = (0..dim)
            .map(|i| (0..dim).map(|j| i * j).collect())
            .collect();
        matrix.iter().map(|row| row.iter().sum::<u64>()).sum()
    }

    /// `it` rounds of `Σ j²` for `j < 100`, accumulated.
    pub fn heavy(it: u64) -> u64 {
        let mut total = 0u64;
        for _ in 0..black_box(it) {
            total += (0..black_box(100u64)).map(|j| j * j).sum::<u64>();
        }
        total
    }

    /// The `n`th Fibonacci number, iteratively, modulo 2¹²⁸ (wrapping `u128`
    /// additions): Python's integers are unbounded, and F(300) needs 208 bits.
    pub fn fibonacci(n: u64) -> u128 {
        let (mut a, mut b) = (0u128, 1u128);
        for _ in 0..black_box(n) {
            (a, b) = (b, a.wrapping_add(b));
        }
        a
    }

    /// Trial-division primality test.
    pub fn is_prime(n: u64) -> bool {
        if n < 2 {
            return false;
        }
        let mut d = 2;
        while d * d <= n {
            if n % d == 0 {
                return false;
            }
            d += 1;
        }
        true
    }

    /// `len(("test" * len).upper().replace("T", "X").split("X"))`.
    pub fn string_ops(len: u64) -> usize {
        "test"
            .repeat(black_box(len) as usize)
            .to_uppercase()
            .replace('T', "X")
            .split('X')
            .count()
    }

    /// Busy-loops for `duration` (wall clock, like the original's
    /// `time.monotonic()` loop), accumulating `sqrt(|cos x|) + ln x`; returns
    /// how many rounds ran.
    pub fn series_long(duration: Duration) -> u64 {
        let start = Instant::now();
        let mut rounds = 0u64;
        let mut acc = 0.0f64;
        while start.elapsed() < duration {
            for _ in 0..256 {
                rounds += 1;
                let x = rounds as f64;
                acc += x.cos().abs().sqrt() + x.ln();
            }
        }
        black_box(acc);
        rounds
    }
}

/// `trivial_operation`: op `trivial_math`, light.
#[task_token_guard(op = "trivial_math", weight = "light")]
pub fn trivial_operation(x: u64) -> u64 {
    plain::trivial(x)
}

/// `simple_operation`: op `simple_loop`, light.
#[task_token_guard(op = "simple_loop", weight = "light")]
pub fn simple_operation(n: u64) -> u64 {
    plain::simple(n)
}

/// `moderate_operation`: op `list_process`, medium.
#[task_token_guard(op = "list_process", weight = "medium")]
pub fn moderate_operation(size: u64) -> u64 {
    plain::moderate(size)
}

/// `complex_operation`: op `nested_loops`, medium.
#[task_token_guard(op = "nested_loops", weight = "medium")]
pub fn complex_operation(dim: u64) -> u64 {
    plain::complex(dim)
}

/// `heavy_operation`: op `cpu_intensive`, heavy.
#[task_token_guard(op = "cpu_intensive", weight = "heavy")]
pub fn heavy_operation(it: u64) -> u64 {
    plain::heavy(it)
}

/// `fibonacci_operation`: op `fibonacci`, heavy (modulo 2¹²⁸, see [`plain::fibonacci`]).
#[task_token_guard(op = "fibonacci", weight = "heavy")]
pub fn fibonacci_operation(n: u64) -> u128 {
    plain::fibonacci(n)
}

/// `prime_operation`: op `prime_check`, medium.
#[task_token_guard(op = "prime_check", weight = "medium")]
pub fn prime_operation(n: u64) -> bool {
    plain::is_prime(n)
}

/// `string_operation`: op `string_ops`, light.
#[task_token_guard(op = "string_ops", weight = "light")]
pub fn string_operation(len: u64) -> usize {
    plain::string_ops(len)
}

/// SplitMix64: a tiny, deterministic, well-mixed generator (Steele, Lea and
/// Flood, 2014). Not for cryptography; the same seed gives the same sequence on
/// every platform.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `low..=high` (like Python's `randint`).
    ///
    /// # Panics
    ///
    /// Panics if `low > high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        let span = high - low + 1;
        // Multiply-shift maps 64 random bits onto the span with negligible bias.
        low + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// A uniform float in `[low, high)` (like Python's `uniform`).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }

    /// A uniformly chosen element of `items`.
    ///
    /// # Panics
    ///
    /// Panics if `items` is empty.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range_inclusive(0, items.len() as u64 - 1) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_match_the_python_originals() {
        assert_eq!(plain::trivial(12), 144);
        assert_eq!(plain::simple(100), 4_950);
        // Multiples of 6 below 20: 0 + 6 + 12 + 18.
        assert_eq!(plain::moderate(10), 36);
        // (Σ i)² for i < 4.
        assert_eq!(plain::complex(4), 36);
        assert_eq!(plain::heavy(3), 3 * 328_350);
        assert_eq!(plain::fibonacci(10), 55);
        assert_eq!(
            plain::fibonacci(186),
            332_825_110_087_067_562_321_196_029_789_634_457_848
        );
        assert_eq!((0..1000).filter(|&n| plain::is_prime(n)).count(), 168);
        assert_eq!(plain::string_ops(3), 7);
    }

    #[test]
    fn splitmix_is_deterministic_and_in_range() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..1000 {
            let x = a.range_inclusive(10, 20);
            assert_eq!(x, b.range_inclusive(10, 20));
            assert!((10..=20).contains(&x));
            let f = a.uniform(0.01, 0.2);
            assert_eq!(f, b.uniform(0.01, 0.2));
            assert!((0.01..0.2).contains(&f));
        }
    }
}
