//! Double quantisation of NF4 absmax scales (QLoRA, Dettmers et al. 2023, §3 "Double
//! Quantization"), bit-exact with bitsandbytes 0.50.2's CPU backend: `functional.py`
//! `create_dynamic_map(signed=True)`, `quantize_4bit(compress_statistics=True)` (mean offset, then
//! `quantize_blockwise(absmax - offset, blocksize=256)`), and `csrc/cpu_ops.cpp`
//! `quantize_cpu_impl` / `dequantizeBlockwise8bitCpu` for the nested 8-bit codes.
//!
//! Three details decide the bits, and each is taken from the code that runs on CPU:
//!
//! - **Offset.** `absmax.mean()` in float32 is ATen's `cascade_sum` (`SumKernel.cpp`: rows of
//!   8-lane vectors, 4-way interleaved partial sums, levels of at least 16 chunks) divided by the
//!   count. [`torch_mean`] replays that order for one thread; ATen splits sums of 32768 or more
//!   values over its threads, so a multi-threaded bitsandbytes may differ there in the last bits
//!   (as may CUDA's tree reduction).
//! - **Nested codes.** The CPU kernel does not search for the nearest code: it maps
//!   `v = x * (1/absmax)`, clamped to [-1, 1], to `trunc((v + 1) * 0.5 * 65535 + 0.5)` and
//!   reads a 65536-entry table holding, for each grid point `2i/65535 - 1`, the number of code
//!   midpoints strictly below it. Near a midpoint this can pick the farther code, and small
//!   values collapse onto few codes; CUDA's `kQuantizeBlockwise` searches instead. A block whose
//!   absmax is 0 gets code 0 everywhere.
//! - **Dequantisation.** `code[c] * scale` in f32, then `+ offset` in f32 (two roundings, no fma).

use std::sync::OnceLock;

/// Lanes of ATen's `Vectorized<float>` in its float32 sum kernel: 8 in AVX2 builds, and what
/// torch 2.9.0's x86 wheel runs for `sum` on an AVX512 machine too (checked against it for
/// 311 lengths up to 32767).
const SUM_LANES: usize = 8;

/// Grid points of the CPU kernel's lookup table over [-1, 1].
const LUT_SIZE: usize = 65536;

/// `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)` as bitsandbytes builds it
/// in float32 (sorted; one 0.0 and one 1.0; the most negative entry is -0.99296874, not -1).
#[rustfmt::skip]
const DYNAMIC_MAP: [f32; 256] = [
    -0.99296874, -0.9789063, -0.96484375, -0.9507812, -0.93671876, -0.92265624, -0.9085938,
    -0.89453125, -0.8804687, -0.86640626, -0.85234374, -0.8382813, -0.82421875, -0.8101562,
    -0.79609376, -0.78203124, -0.7679688, -0.75390625, -0.7398437, -0.72578126, -0.7117188,
    -0.6976563, -0.68359375, -0.6695312, -0.65546876, -0.6414063, -0.6273438, -0.61328125,
    -0.5992187, -0.58515626, -0.5710938, -0.5570313, -0.54296875, -0.5289062, -0.5148437,
    -0.50078124, -0.4867187, -0.47265625, -0.45859373, -0.44453126, -0.43046874, -0.41640624,
    -0.40234375, -0.38828123, -0.37421876, -0.36015624, -0.34609374, -0.33203125, -0.31796873,
    -0.30390626, -0.28984374, -0.27578127, -0.26171875, -0.24765624, -0.23359375, -0.21953125,
    -0.20546874, -0.19140625, -0.17734376, -0.16328125, -0.14921875, -0.13515624, -0.12109375,
    -0.107031256, -0.09859375, -0.09578126, -0.092968754, -0.09015625, -0.08734375, -0.08453125,
    -0.08171876, -0.07890625, -0.07609375, -0.07328125, -0.070468746, -0.067656256, -0.06484375,
    -0.06203125, -0.059218753, -0.05640625, -0.05359375, -0.05078125, -0.04796875, -0.04515625,
    -0.042343747, -0.03953125, -0.036718752, -0.03390625, -0.03109375, -0.028281251, -0.02546875,
    -0.02265625, -0.019843752, -0.01703125, -0.01421875, -0.01140625, -0.00971875, -0.009156249,
    -0.00859375, -0.00803125, -0.00746875, -0.00690625, -0.00634375, -0.00578125, -0.0052187503,
    -0.0046562497, -0.00409375, -0.0035312497, -0.00296875, -0.00240625, -0.00184375, -0.0012812499,
    -0.0009437501, -0.00083125, -0.00071875006, -0.0006062501, -0.00049375003, -0.00038125002,
    -0.00026875004, -0.00015625001, -8.875e-5, -6.625e-5, -4.375e-5, -2.1249998e-5, -7.75e-6,
    -3.2500002e-6, -5.5000004e-7, 0.0, 5.5000004e-7, 3.2500002e-6, 7.75e-6, 2.1249998e-5, 4.375e-5,
    6.625e-5, 8.875e-5, 0.00015625001, 0.00026875004, 0.00038125002, 0.00049375003, 0.0006062501,
    0.00071875006, 0.00083125, 0.0009437501, 0.0012812499, 0.00184375, 0.00240625, 0.00296875,
    0.0035312497, 0.00409375, 0.0046562497, 0.0052187503, 0.00578125, 0.00634375, 0.00690625,
    0.00746875, 0.00803125, 0.00859375, 0.009156249, 0.00971875, 0.01140625, 0.01421875, 0.01703125,
    0.019843752, 0.02265625, 0.02546875, 0.028281251, 0.03109375, 0.03390625, 0.036718752,
    0.03953125, 0.042343747, 0.04515625, 0.04796875, 0.05078125, 0.05359375, 0.05640625,
    0.059218753, 0.06203125, 0.06484375, 0.067656256, 0.070468746, 0.07328125, 0.07609375,
    0.07890625, 0.08171876, 0.08453125, 0.08734375, 0.09015625, 0.092968754, 0.09578126, 0.09859375,
    0.107031256, 0.12109375, 0.13515624, 0.14921875, 0.16328125, 0.17734376, 0.19140625, 0.20546874,
    0.21953125, 0.23359375, 0.24765624, 0.26171875, 0.27578127, 0.28984374, 0.30390626, 0.31796873,
    0.33203125, 0.34609374, 0.36015624, 0.37421876, 0.38828123, 0.40234375, 0.41640624, 0.43046874,
    0.44453126, 0.45859373, 0.47265625, 0.4867187, 0.50078124, 0.5148437, 0.5289062, 0.54296875,
    0.5570313, 0.5710938, 0.58515626, 0.5992187, 0.61328125, 0.6273438, 0.6414063, 0.65546876,
    0.6695312, 0.68359375, 0.6976563, 0.7117188, 0.72578126, 0.7398437, 0.75390625, 0.7679688,
    0.78203124, 0.79609376, 0.8101562, 0.82421875, 0.8382813, 0.85234374, 0.86640626, 0.8804687,
    0.89453125, 0.9085938, 0.92265624, 0.93671876, 0.9507812, 0.96484375, 0.9789063, 0.99296874,
    1.0,
];

/// The 8-bit signed dynamic quantisation map bitsandbytes uses for double quantisation
/// (`create_dynamic_map(signed=True)`), 256 increasing entries.
pub fn dynamic_map_signed() -> [f32; 256] {
    DYNAMIC_MAP
}

/// One float32 accumulator of ATen's sum: a scalar or a vector of [`SUM_LANES`] lanes.
trait Acc: Copy {
    const ZERO: Self;
    fn add(self, other: Self) -> Self;
}

impl Acc for f32 {
    const ZERO: Self = 0.0;
    fn add(self, other: Self) -> Self {
        self + other
    }
}

#[derive(Clone, Copy)]
struct Lanes([f32; SUM_LANES]);

impl Acc for Lanes {
    const ZERO: Self = Lanes([0.0; SUM_LANES]);
    fn add(self, other: Self) -> Self {
        Lanes(std::array::from_fn(|k| self.0[k] + other.0[k]))
    }
}

/// ATen `utils::CeilLog2`.
fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        1
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

/// ATen `multi_row_sum`: `R` interleaved running sums, folded into up to four levels every
/// `2^level_power` steps so that only sums of similar size meet.
fn multi_row_sum<T: Acc, const R: usize>(load: impl Fn(usize, usize) -> T, size: usize) -> [T; R] {
    const LEVELS: usize = 4;
    let level_power = 4.max(ceil_log2(size) / LEVELS);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[T::ZERO; R]; LEVELS];
    let mut i = 0;
    while i + level_step <= size {
        for _ in 0..level_step {
            for (k, a) in acc[0].iter_mut().enumerate() {
                *a = a.add(load(i, k));
            }
            i += 1;
        }
        for j in 1..LEVELS {
            let (lower, upper) = acc.split_at_mut(j);
            for (a, b) in upper[0].iter_mut().zip(lower[j - 1].iter_mut()) {
                *a = a.add(*b);
                *b = T::ZERO;
            }
            if i & (level_mask << (j * level_power)) != 0 {
                break;
            }
        }
    }
    for i in i..size {
        for (k, a) in acc[0].iter_mut().enumerate() {
            *a = a.add(load(i, k));
        }
    }
    let (first, rest) = acc.split_at_mut(1);
    for level in rest {
        for (a, b) in first[0].iter_mut().zip(level.iter()) {
            *a = a.add(*b);
        }
    }
    acc[0]
}

/// ATen `row_sum`: four interleaved sums, the remainder added to the first, then combined.
fn row_sum<T: Acc>(load: impl Fn(usize) -> T, size: usize) -> T {
    const ILP: usize = 4;
    let n_ilp = size / ILP;
    let mut partial = multi_row_sum::<T, ILP>(|i, k| load(i * ILP + k), n_ilp);
    for i in n_ilp * ILP..size {
        partial[0] = partial[0].add(load(i));
    }
    for k in 1..ILP {
        partial[0] = partial[0].add(partial[k]);
    }
    partial[0]
}

/// `torch.Tensor.mean()` of a contiguous float32 vector on CPU with one thread: ATen's
/// `cascade_sum` (`vectorized_inner_sum` from [`SUM_LANES`] values up, `scalar_inner_sum`
/// below), accumulated into a zeroed output, divided by the count as f32.
pub(crate) fn torch_mean(x: &[f32]) -> f32 {
    let n = x.len();
    let sum = if n < SUM_LANES {
        row_sum(|i| x[i], n)
    } else {
        let n_vec = n / SUM_LANES;
        let v = row_sum(
            |i| Lanes(std::array::from_fn(|k| x[i * SUM_LANES + k])),
            n_vec,
        );
        let mut acc = 0.0f32;
        for &t in &x[n_vec * SUM_LANES..] {
            acc += t;
        }
        for lane in v.0 {
            acc += lane;
        }
        acc
    };
    (0.0 + sum) / n as f32
}

/// The CPU kernel's table: entry `i` is the number of dynamic-map midpoints strictly below the
/// grid point `2i/65535 - 1` (computed as `(2i as f32) / 65535 - 1` in f32, as `build_quantize_lut`).
fn lut() -> &'static [u8; LUT_SIZE] {
    static LUT: OnceLock<Box<[u8; LUT_SIZE]>> = OnceLock::new();
    LUT.get_or_init(|| {
        let mid: [f32; 255] = std::array::from_fn(|i| (DYNAMIC_MAP[i] + DYNAMIC_MAP[i + 1]) * 0.5);
        let mut lut = Box::new([0u8; LUT_SIZE]);
        let mut code = 0usize;
        for (i, slot) in lut.iter_mut().enumerate() {
            let grid = (2.0 * i as f32) / (LUT_SIZE - 1) as f32 - 1.0;
            while code < mid.len() && mid[code] < grid {
                code += 1;
            }
            *slot = code as u8;
        }
        lut
    })
}

/// `quantize_cpu_impl` on one block: the block's absmax (NaN ignored, as `std::max` does) and
/// one dynamic-map code per value.
fn quantize_block(x: &[f32], codes: &mut [u8], lut: &[u8; LUT_SIZE]) -> f32 {
    let absmax = x
        .iter()
        .fold(0.0f32, |m, v| if m < v.abs() { v.abs() } else { m });
    if absmax == 0.0 {
        codes.fill(0);
        return absmax;
    }
    let inv = 1.0 / absmax;
    for (c, &v) in codes.iter_mut().zip(x) {
        let t = ((v * inv).clamp(-1.0, 1.0) + 1.0) * 0.5;
        // Truncated, then cast to `uint16_t`; NaN gives index 0, as `cvttss2si` does. The
        // bitsandbytes build contracts `* 65535 + 0.5` into an fma; the index comes out the same
        // without it for every f32 in [-1, 1] (checked exhaustively), so plain arithmetic is used.
        let idx = (t * (LUT_SIZE - 1) as f32 + 0.5) as i32 as u16;
        *c = lut[idx as usize];
    }
    absmax
}

/// Double-quantises NF4 absmax values: returns (codes, one scale per `blocksize` codes, offset).
pub(crate) fn quantize_absmax(absmax: &[f32], blocksize: usize) -> (Vec<u8>, Vec<f32>, f32) {
    let offset = torch_mean(absmax);
    let centred: Vec<f32> = absmax.iter().map(|&a| a - offset).collect();
    let lut = lut();
    let mut codes = vec![0u8; centred.len()];
    let scales = centred
        .chunks(blocksize)
        .zip(codes.chunks_mut(blocksize))
        .map(|(x, c)| quantize_block(x, c, lut))
        .collect();
    (codes, scales, offset)
}

/// Rebuilds absmax values: `DYNAMIC_MAP[code] * scale + offset`, rounded after each step.
/// Lengths are checked by the caller.
pub(crate) fn dequantize_absmax(
    codes: &[u8],
    scales: &[f32],
    offset: f32,
    blocksize: usize,
    out: &mut [f32],
) {
    for ((c, o), &s) in codes
        .chunks(blocksize)
        .zip(out.chunks_mut(blocksize))
        .zip(scales)
    {
        for (&c, o) in c.iter().zip(o) {
            *o = DYNAMIC_MAP[c as usize] * s + offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_map_shape() {
        let m = dynamic_map_signed();
        assert!(m.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert_eq!((m[0], m[127], m[255]), (-0.99296874, 0.0, 1.0));
        // Symmetric except for the lone 1.0 at the top.
        assert!((0..127).all(|i| m[i] == -m[254 - i]));
    }

    #[test]
    fn mean_of_small_and_ragged_vectors() {
        // Exact sums: the order cannot show, only the plumbing (scalar path, vector path, tail).
        for n in [1usize, 3, 7, 8, 9, 63, 64, 65, 1000, 4099] {
            let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32).collect();
            let exact: f64 = x.iter().map(|&v| v as f64).sum();
            assert_eq!(torch_mean(&x), (exact as f32) / n as f32, "n = {n}");
        }
    }

    #[test]
    fn lut_and_nested_codes_round_trip_exact_entries() {
        let lut = lut();
        assert_eq!((lut[0], lut[LUT_SIZE - 1]), (0, 255));
        // Scale 1: entries far enough apart for the grid (|v| >= 0.1) come back unchanged.
        let x: Vec<f32> = DYNAMIC_MAP
            .iter()
            .copied()
            .filter(|v| v.abs() >= 0.1)
            .collect();
        let mut codes = vec![0u8; x.len()];
        assert_eq!(quantize_block(&x, &mut codes, lut), 1.0);
        let back: Vec<f32> = codes.iter().map(|&c| DYNAMIC_MAP[c as usize]).collect();
        assert_eq!(back, x);
    }

    #[test]
    fn zero_block_gets_code_zero() {
        let mut codes = [9u8; 4];
        assert_eq!(quantize_block(&[0.0; 4], &mut codes, lut()), 0.0);
        assert_eq!(codes, [0; 4]);
    }
}
