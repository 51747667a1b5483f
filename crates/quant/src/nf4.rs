//! NF4, the 4-bit NormalFloat of QLoRA (Dettmers et al. 2023, §3), bit-exact with
//! bitsandbytes 0.50.2's CPU backend: `functional.py` `get_4bit_type("nf4")`, `quantize_4bit` /
//! `dequantize_4bit` (`quant_type="nf4"`), whose CPU quantiser is `backends/default/ops.py`;
//! double quantisation (`compress_statistics=True`) is in `nf4_double.rs`.
//!
//! **Format.** The tensor is read flat (row-major) and cut into blocks of `blocksize` values;
//! the last block may be partial. Each block stores its absmax as f32 and each value a 4-bit
//! index into [`NF4_CODE`]; a value decodes as `NF4_CODE[q] * absmax` (one f32 multiply).
//!
//! **Nibble order.** Byte `i` holds element `2i` in its **high** nibble and element `2i + 1` in
//! its low nibble (`(q[0::2] << 4) | q[1::2]`, as bitsandbytes packs). An odd element count pads
//! the last low nibble with the code of 0.0, which is 7.
//!
//! **Rounding.** A value is scaled to `v = clamp(x * (1 / absmax), -1, 1)` (f32 reciprocal, then
//! multiply) and gets the code whose interval contains it; the interval bounds are the f32
//! midpoints `(NF4_CODE[i] + NF4_CODE[i+1]) / 2`, and a value exactly on a midpoint takes the
//! **lower** code (`torch.bucketize(right=False)`). NaN scales to code 15. CUDA's `dQuantizeNF4`
//! also takes the upper code only for `x > threshold`, but its thresholds are decimal literals of
//! the f64 midpoints: as f32 they equal these bounds except between codes 0|1, 8|9, 12|13 and
//! 14|15, where the exact midpoint falls halfway between two f32 values and literal and f32 sum
//! round to different neighbours. There one f32 value per midpoint gets the other code on CUDA.
//!
//! **Where the CPU path (matched here) differs from the CUDA kernel** (`kQuantizeBlockwise`):
//! the partial last block is scaled by `x / absmax` (a division) instead of the reciprocal
//! multiply; its absmax is stored clamped to at least `1e-38`; an all-zero full block stores
//! absmax 0 with code 7 (CUDA: NaN scaled values, code 0); NaN inputs make the block's absmax
//! NaN (CUDA's `fmaxf` skips them). Full blocks of finite, not-all-zero values give the same
//! bytes on both, up to the four midpoint values above. The nested statistics differ more, see
//! `nf4_double.rs`.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::nf4_double;
pub use crate::nf4_double::dynamic_map_signed;
use crate::{BLOCKS_PER_TASK, PAR_THRESHOLD};

/// The 16 NF4 code values exactly as bitsandbytes defines them (f32), increasing.
// bitsandbytes' literals verbatim (`get_4bit_type("nf4")`); the test pins their f32 bits.
#[allow(clippy::excessive_precision)]
pub const NF4_CODE: [f32; 16] = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
];

/// Default QLoRA block size.
pub const NF4_BLOCKSIZE: usize = 64;

/// Block size of the double quantisation of absmax values.
pub const NF4_DQ_BLOCKSIZE: usize = 256;

/// Block sizes `quantize_4bit` accepts.
const BLOCKSIZES: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];
const BLOCKSIZES_TEXT: &str = "32, 64, 128, 256, 512, 1024, 2048 or 4096";

/// Code of 0.0, used for the padding nibble of an odd element count.
const ZERO_CODE: u8 = 7;

/// Smallest absmax bitsandbytes divides by (`absmax.clamp(min=1e-38)`).
const MIN_ABSMAX: f32 = 1e-38;

/// Decision bounds: the f32 midpoints of adjacent codes, as `(code[:-1] + code[1:]) / 2`.
const NF4_MIDPOINTS: [f32; 15] = {
    let mut m = [0.0f32; 15];
    let mut i = 0;
    while i < 15 {
        m[i] = (NF4_CODE[i] + NF4_CODE[i + 1]) / 2.0;
        i += 1;
    }
    m
};

/// Absmax scales of an NF4 tensor: plain f32, or double-quantised (8-bit dynamic code per
/// absmax, one f32 scale per 256 absmax values, plus the f32 mean offset) as bitsandbytes'
/// `compress_statistics=True` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Nf4Absmax {
    /// One f32 absmax per block (`QuantState.absmax`).
    F32(Vec<f32>),
    /// Double-quantised absmax: block `b`'s absmax is
    /// `dynamic_map_signed()[codes[b]] * scales[b / blocksize] + offset`.
    Double {
        /// One 8-bit dynamic-map index per block (`QuantState.absmax`, uint8).
        codes: Vec<u8>,
        /// One f32 scale per `blocksize` codes (`QuantState.state2.absmax`).
        scales: Vec<f32>,
        /// Mean of the absmax values, subtracted before quantising (`QuantState.offset`).
        offset: f32,
        /// Codes per scale (`QuantState.state2.blocksize`, 256).
        blocksize: usize,
    },
}

/// A flat f32 tensor in NF4: the layout of bitsandbytes' `quantize_4bit(quant_type="nf4")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Nf4Tensor {
    /// Element count.
    pub numel: usize,
    /// Elements per absmax block.
    pub blocksize: usize,
    /// `numel.div_ceil(2)` bytes, 2 codes per byte in bitsandbytes' nibble order (element `2i`
    /// high, `2i + 1` low; an odd count pads the last low nibble with code 7).
    pub packed: Vec<u8>,
    /// One absmax per block, plain or double-quantised.
    pub absmax: Nf4Absmax,
}

fn check_blocksize(blocksize: usize) -> Result<()> {
    if BLOCKSIZES.contains(&blocksize) {
        return Ok(());
    }
    Err(Error::Nf4Blocksize {
        what: "blocksize",
        blocksize,
        accepted: BLOCKSIZES_TEXT,
    })
}

/// The code of a scaled value: the number of midpoints below it, 15 for NaN (`torch.bucketize`
/// searches for the first midpoint `>= v`, which NaN never finds).
fn code_of(v: f32) -> u8 {
    let v = v.clamp(-1.0, 1.0);
    NF4_MIDPOINTS.partition_point(|&m| m < v || v.is_nan()) as u8
}

/// The largest `|x|`, NaN if any value is NaN (`torch.max` propagates NaN).
fn abs_max(x: &[f32]) -> f32 {
    let mut m = 0.0f32;
    for v in x {
        let a = v.abs();
        if a.is_nan() {
            return a;
        }
        if a > m {
            m = a;
        }
    }
    m
}

/// Packs the codes of `x` into `packed` (`x.len().div_ceil(2)` bytes), padding with code 7.
fn pack(x: &[f32], packed: &mut [u8], code: impl Fn(f32) -> u8) {
    for (pair, byte) in x.chunks(2).zip(packed) {
        let lo = pair.get(1).map_or(ZERO_CODE, |&v| code(v));
        *byte = (code(pair[0]) << 4) | lo;
    }
}

/// Quantises one block into `packed` and returns the absmax bitsandbytes stores for it.
fn quantize_block(x: &[f32], blocksize: usize, packed: &mut [u8]) -> f32 {
    let raw = abs_max(x);
    let clamped = if raw < MIN_ABSMAX { MIN_ABSMAX } else { raw };
    if x.len() == blocksize {
        let inv = 1.0 / clamped;
        pack(x, packed, |v| code_of(v * inv));
        raw
    } else {
        // The partial last block: bitsandbytes divides, and keeps the clamped absmax.
        pack(x, packed, |v| code_of(v / clamped));
        clamped
    }
}

/// Decodes one block with its absmax; `x` has `out.len().div_ceil(2)` bytes.
fn dequantize_block(x: &[u8], absmax: f32, out: &mut [f32]) {
    let table: [f32; 16] = std::array::from_fn(|i| NF4_CODE[i] * absmax);
    let mut pairs = out.chunks_exact_mut(2);
    for (pair, &b) in (&mut pairs).zip(x) {
        pair[0] = table[(b >> 4) as usize];
        pair[1] = table[(b & 0x0f) as usize];
    }
    if let [last] = pairs.into_remainder() {
        *last = table[(x[x.len() - 1] >> 4) as usize];
    }
}

impl Nf4Tensor {
    /// Quantises `data` (read flat) in blocks of `blocksize` ([`NF4_BLOCKSIZE`] in QLoRA),
    /// double-quantising the absmax values in blocks of [`NF4_DQ_BLOCKSIZE`] when asked.
    ///
    /// # Errors
    /// [`Error::Nf4Blocksize`] for a block size `quantize_4bit` rejects, [`Error::Nf4Empty`] for
    /// an empty `data`.
    pub fn quantize(data: &[f32], blocksize: usize, double_quant: bool) -> Result<Self> {
        check_blocksize(blocksize)?;
        if data.is_empty() {
            return Err(Error::Nf4Empty);
        }
        let numel = data.len();
        let mut packed = vec![0u8; numel.div_ceil(2)];
        let mut absmax = vec![0.0f32; numel.div_ceil(blocksize)];
        // Block sizes are even, so a byte never straddles two blocks.
        let run = |x: &[f32], p: &mut [u8], a: &mut [f32]| {
            for ((x, p), a) in x.chunks(blocksize).zip(p.chunks_mut(blocksize / 2)).zip(a) {
                *a = quantize_block(x, blocksize, p);
            }
        };
        if numel < PAR_THRESHOLD {
            run(data, &mut packed, &mut absmax);
        } else {
            data.par_chunks(blocksize * BLOCKS_PER_TASK)
                .zip(packed.par_chunks_mut(blocksize / 2 * BLOCKS_PER_TASK))
                .zip(absmax.par_chunks_mut(BLOCKS_PER_TASK))
                .for_each(|((x, p), a)| run(x, p, a));
        }
        let absmax = if double_quant {
            let (codes, scales, offset) = nf4_double::quantize_absmax(&absmax, NF4_DQ_BLOCKSIZE);
            Nf4Absmax::Double {
                codes,
                scales,
                offset,
                blocksize: NF4_DQ_BLOCKSIZE,
            }
        } else {
            Nf4Absmax::F32(absmax)
        };
        Ok(Self {
            numel,
            blocksize,
            packed,
            absmax,
        })
    }

    /// Assembles a tensor from stored parts (e.g. a bitsandbytes checkpoint), checking them.
    ///
    /// # Errors
    /// As [`Nf4Tensor::validate`].
    pub fn from_parts(
        numel: usize,
        blocksize: usize,
        packed: Vec<u8>,
        absmax: Nf4Absmax,
    ) -> Result<Self> {
        let t = Self {
            numel,
            blocksize,
            packed,
            absmax,
        };
        t.validate()?;
        Ok(t)
    }

    /// Checks that the parts fit together: a known block size, `numel.div_ceil(2)` packed bytes,
    /// one absmax (or code) per block, one scale per nested block.
    ///
    /// # Errors
    /// [`Error::Nf4Empty`], [`Error::Nf4Blocksize`] or [`Error::Nf4Length`] naming the part.
    pub fn validate(&self) -> Result<()> {
        check_blocksize(self.blocksize)?;
        if self.numel == 0 {
            return Err(Error::Nf4Empty);
        }
        let n_blocks = self.numel.div_ceil(self.blocksize);
        self.check_len("packed codes", self.numel.div_ceil(2), self.packed.len())?;
        match &self.absmax {
            Nf4Absmax::F32(a) => self.check_len("absmax", n_blocks, a.len()),
            Nf4Absmax::Double {
                codes,
                scales,
                blocksize,
                ..
            } => {
                if *blocksize == 0 {
                    return Err(Error::Nf4Blocksize {
                        what: "double-quantisation blocksize",
                        blocksize: 0,
                        accepted: "any positive size (256 from quantize_4bit)",
                    });
                }
                self.check_len("absmax codes", n_blocks, codes.len())?;
                self.check_len("absmax scales", n_blocks.div_ceil(*blocksize), scales.len())
            }
        }
    }

    fn check_len(&self, what: &'static str, expected: usize, actual: usize) -> Result<()> {
        if expected == actual {
            return Ok(());
        }
        Err(Error::Nf4Length {
            what,
            numel: self.numel,
            blocksize: self.blocksize,
            expected,
            actual,
        })
    }

    /// The absmax of every block as f32 (rebuilt from the nested codes when double-quantised:
    /// `dynamic_map_signed()[code] * scale + offset`, as `dequantize_4bit` does).
    ///
    /// # Panics
    /// If the parts are inconsistent, which only a hand-assembled tensor can be; see
    /// [`Nf4Tensor::validate`].
    pub fn absmax_f32(&self) -> Vec<f32> {
        match &self.absmax {
            Nf4Absmax::F32(a) => a.clone(),
            Nf4Absmax::Double {
                codes,
                scales,
                offset,
                blocksize,
            } => {
                assert!(
                    codes.len().div_ceil(*blocksize) <= scales.len(),
                    "nf4: {} absmax codes need {} scales, got {}",
                    codes.len(),
                    codes.len().div_ceil(*blocksize),
                    scales.len()
                );
                let mut out = vec![0.0f32; codes.len()];
                nf4_double::dequantize_absmax(codes, scales, *offset, *blocksize, &mut out);
                out
            }
        }
    }

    /// Decodes into `out` (`numel` values): `NF4_CODE[q] * absmax` per element, split over
    /// rayon by blocks for large tensors (the result does not depend on the split).
    ///
    /// # Errors
    /// [`Error::Nf4Length`] when `out.len() != numel`, and anything [`Nf4Tensor::validate`]
    /// finds.
    pub fn dequantize_into(&self, out: &mut [f32]) -> Result<()> {
        self.validate()?;
        self.check_len("output buffer", self.numel, out.len())?;
        let absmax = self.absmax_f32();
        let bs = self.blocksize;
        let run = |x: &[u8], a: &[f32], o: &mut [f32]| {
            for ((x, &a), o) in x.chunks(bs / 2).zip(a).zip(o.chunks_mut(bs)) {
                dequantize_block(x, a, o);
            }
        };
        if self.numel < PAR_THRESHOLD {
            run(&self.packed, &absmax, out);
        } else {
            self.packed
                .par_chunks(bs / 2 * BLOCKS_PER_TASK)
                .zip(absmax.par_chunks(BLOCKS_PER_TASK))
                .zip(out.par_chunks_mut(bs * BLOCKS_PER_TASK))
                .for_each(|((x, a), o)| run(x, a, o));
        }
        Ok(())
    }

    /// Decodes into a new vector of `numel` values; see [`Nf4Tensor::dequantize_into`].
    ///
    /// # Panics
    /// If the parts are inconsistent, which only a hand-assembled tensor can be; build from
    /// stored parts with [`Nf4Tensor::from_parts`], or call `dequantize_into` to get the error.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.numel];
        if let Err(e) = self.dequantize_into(&mut out) {
            panic!("{e}");
        }
        out
    }

    /// Bytes held: packed codes plus the absmax storage (4 per f32 absmax; or 1 per code,
    /// 4 per nested scale and 4 for the offset).
    pub fn storage_bytes(&self) -> usize {
        let stats = match &self.absmax {
            Nf4Absmax::F32(a) => 4 * a.len(),
            Nf4Absmax::Double { codes, scales, .. } => codes.len() + 4 * scales.len() + 4,
        };
        self.packed.len() + stats
    }

    /// `storage_bytes() * 8 / numel`: 4.5 at blocksize 64, ≈ 4.127 with double quantisation
    /// (QLoRA §3).
    pub fn bits_per_param(&self) -> f64 {
        self.storage_bytes() as f64 * 8.0 / self.numel as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table_bits_and_midpoints() {
        // The f32 bit patterns of bitsandbytes' table (get_4bit_type("nf4") on CPU).
        let bits: [u32; 16] = [
            0xbf800000, 0xbf3239b1, 0xbf066b30, 0xbeca32a0, 0xbe91a24d, 0xbe3d353f, 0xbdba7871,
            0x00000000, 0x3da2faff, 0x3e24cae3, 0x3e7c04dd, 0x3ead033a, 0x3ee1a4b8, 0x3f1007ab,
            0x3f3913b3, 0x3f800000,
        ];
        assert_eq!(NF4_CODE.map(f32::to_bits), bits);
        // CUDA's dQuantizeNF4 thresholds, verbatim.
        #[allow(clippy::excessive_precision)]
        let cuda: [f32; 15] = [
            -0.8480964004993439,
            -0.6106329262256622,
            -0.4599952697753906,
            -0.33967943489551544,
            -0.23460740596055984,
            -0.13791173323988914,
            -0.045525018125772476,
            0.03979014977812767,
            0.1202552504837513,
            0.2035212516784668,
            0.2920137718319893,
            0.3893125355243683,
            0.5016634166240692,
            0.6427869200706482,
            0.8614784181118011,
        ];
        // As f32 literals they equal the midpoints except at four, where the exact midpoint is
        // halfway between two f32 values: the literal rounds to one neighbour, the f32 sum
        // `code[i] + code[i+1]` (ties to even) to the other.
        for (i, (&m, &c)) in NF4_MIDPOINTS.iter().zip(&cuda).enumerate() {
            let ulps = c.to_bits() as i64 - m.to_bits() as i64;
            let want = match i {
                0 => 1,
                8 => 1,
                12 | 14 => -1,
                _ => 0,
            };
            assert_eq!(ulps, want, "midpoint {i}: {m} vs CUDA {c}");
        }
        assert_eq!(code_of(0.0), ZERO_CODE);
    }

    #[test]
    fn ties_go_to_the_lower_code() {
        for (i, &m) in NF4_MIDPOINTS.iter().enumerate() {
            assert_eq!(code_of(m), i as u8, "midpoint {i}");
            assert_eq!(code_of(m.next_up()), i as u8 + 1, "above midpoint {i}");
        }
        assert_eq!(
            (code_of(f32::NAN), code_of(-0.0), code_of(7.0)),
            (15, 7, 15)
        );
    }

    #[test]
    fn exact_code_values_come_back_exactly() {
        // Every code times a scale s, twice over (one block of 32): absmax is 1.0 * s, each
        // value scales back into its own code's interval, and decodes to code * s again.
        let want: Vec<u8> = (0..16u8).step_by(2).map(|i| (i << 4) | (i + 1)).collect();
        for s in [1.0f32, 2.0, 0.25, 2.5, 3.0e-3, 7.1e4] {
            let x: Vec<f32> = NF4_CODE.iter().chain(&NF4_CODE).map(|&c| c * s).collect();
            let q = Nf4Tensor::quantize(&x, 32, false).unwrap();
            assert_eq!(q.packed, [&want[..], &want[..]].concat(), "s = {s}");
            assert_eq!(q.absmax, Nf4Absmax::F32(vec![s]));
            assert_eq!(q.dequantize(), x, "s = {s}");
        }
    }

    #[test]
    fn nibble_order_and_padding() {
        // Elements -1, 1, 0 (odd count): byte 0 = 0x0f (element 0 high), byte 1 = 0x77 (pad 7).
        let q = Nf4Tensor::quantize(&[-1.0, 1.0, 0.0], 64, false).unwrap();
        assert_eq!(q.packed, [0x0f, 0x77]);
        assert_eq!(q.absmax, Nf4Absmax::F32(vec![1.0]));
        assert_eq!(q.dequantize(), [-1.0, 1.0, 0.0]);
    }

    #[test]
    fn error_is_bounded_by_half_the_largest_gap() {
        let half_gap = NF4_CODE
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f32, f32::max)
            / 2.0;
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let x: Vec<f32> = (0..64 * 40 + 17)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                u * (1.0 + (i / 64) as f32)
            })
            .collect();
        for dq in [false, true] {
            let q = Nf4Tensor::quantize(&x, 64, dq).unwrap();
            // Double quantisation moves the absmax, so bound with the stored one plus its error.
            let plain = Nf4Tensor::quantize(&x, 64, false).unwrap().absmax_f32();
            let used = q.absmax_f32();
            for (b, (xb, yb)) in x.chunks(64).zip(q.dequantize().chunks(64)).enumerate() {
                let bound = plain[b] * (half_gap + 1e-6) + (used[b] - plain[b]).abs();
                for (&v, &y) in xb.iter().zip(yb) {
                    assert!((v - y).abs() <= bound, "dq {dq} block {b}: {v} -> {y}");
                }
            }
        }
    }

    #[test]
    fn bits_per_param_matches_qlora() {
        // Without double quantisation: 4 bits + one f32 per 64 values = 4 + 32/64 = 4.5.
        let x = vec![0.5f32; 64 * 256 * 16];
        let plain = Nf4Tensor::quantize(&x, NF4_BLOCKSIZE, false).unwrap();
        assert_eq!(plain.bits_per_param(), 4.5);
        // With it: 4 + 8/64 + 32/(64·256) = 4.126953125, plus the 4-byte offset (32/numel).
        let dq = Nf4Tensor::quantize(&x, NF4_BLOCKSIZE, true).unwrap();
        let want = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0) + 32.0 / x.len() as f64;
        assert_eq!(dq.bits_per_param(), want);
        assert!((dq.bits_per_param() - 4.127).abs() < 1e-3);
    }

    #[test]
    fn parallel_split_matches_serial_blocks() {
        // Larger than PAR_THRESHOLD, not a multiple of the task size, ragged and odd.
        let x: Vec<f32> = (0..PAR_THRESHOLD * 3 + 64 * 5 + 33)
            .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        let q = Nf4Tensor::quantize(&x, 64, true).unwrap();
        let mut packed = vec![0u8; x.len().div_ceil(2)];
        let mut absmax = Vec::new();
        for (xb, pb) in x.chunks(64).zip(packed.chunks_mut(32)) {
            absmax.push(quantize_block(xb, 64, pb));
        }
        assert_eq!(q.packed, packed);
        let plain = Nf4Tensor::quantize(&x, 64, false).unwrap();
        assert_eq!(plain.absmax, Nf4Absmax::F32(absmax));
        let mut serial = vec![0.0f32; x.len()];
        for ((pb, &a), ob) in packed
            .chunks(32)
            .zip(&q.absmax_f32())
            .zip(serial.chunks_mut(64))
        {
            dequantize_block(pb, a, ob);
        }
        assert_eq!(q.dequantize(), serial);
    }

    #[test]
    fn bad_lengths_and_sizes_are_errors() {
        let q = Nf4Tensor::quantize(&[1.0; 130], 64, true).unwrap();
        let err = q.dequantize_into(&mut [0.0; 129]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nf4 tensor of 130 values (blocksize 64): output buffer has 129 entries, expected 130"
        );
        let mut broken = q.clone();
        broken.packed.pop();
        assert!(matches!(
            broken.dequantize_into(&mut [0.0; 130]),
            Err(Error::Nf4Length {
                what: "packed codes",
                expected: 65,
                actual: 64,
                ..
            })
        ));
        let err = Nf4Tensor::from_parts(130, 64, q.packed.clone(), Nf4Absmax::F32(vec![1.0]));
        assert!(matches!(
            err,
            Err(Error::Nf4Length {
                what: "absmax",
                expected: 3,
                actual: 1,
                ..
            })
        ));
        let err = Nf4Tensor::quantize(&[1.0; 8], 48, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nf4: blocksize 48 is not supported; bitsandbytes accepts 32, 64, 128, 256, 512, \
             1024, 2048 or 4096"
        );
        assert!(matches!(
            Nf4Tensor::quantize(&[], 64, false),
            Err(Error::Nf4Empty)
        ));
    }
}
