//! Byte-plane grouping of float tensors: each element's exponent byte goes to one stream and its
//! sign and mantissa bytes to others, so a general-purpose compressor sees the low-entropy
//! exponents together.
//!
//! Follows ZipNN (Hershcovitch et al. 2024, "ZipNN: Lossless Compression for AI Models", §4):
//! exponents of trained weights take a handful of values and compress well, mantissas are close
//! to random. The split is a bijection on whole elements (little-endian storage):
//! - BF16 `b1 b0` = `s eeeeeee | e mmmmmmm` → planes `eeeeeeee` and `s mmmmmmm`;
//! - F16 `b1 b0` = `s eeeee mm | mmmmmmmm` → planes `b1` and `b0` (the exponent byte holds the
//!   sign and two mantissa bits; extracting five bits would not give a byte stream);
//! - F32 `b3 b2 b1 b0` → planes `eeeeeeee`, `s mmmmmmm` (sign and the top mantissa bits), `b1`,
//!   `b0`.

/// Element layouts that get plane grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// bfloat16.
    Bf16,
    /// IEEE half.
    F16,
    /// IEEE single.
    F32,
}

impl Layout {
    /// Bytes per element (= number of planes).
    pub fn width(self) -> usize {
        match self {
            Layout::Bf16 | Layout::F16 => 2,
            Layout::F32 => 4,
        }
    }
}

/// Splits `data` (whole elements) into `width` planes of `data.len() / width` bytes each.
pub fn split(layout: Layout, data: &[u8]) -> Vec<Vec<u8>> {
    let w = layout.width();
    let n = data.len() / w;
    let mut planes = vec![Vec::with_capacity(n); w];
    for e in data.chunks_exact(w) {
        match layout {
            Layout::Bf16 => {
                planes[0].push((e[1] << 1) | (e[0] >> 7));
                planes[1].push((e[1] & 0x80) | (e[0] & 0x7f));
            }
            Layout::F16 => {
                planes[0].push(e[1]);
                planes[1].push(e[0]);
            }
            Layout::F32 => {
                planes[0].push((e[3] << 1) | (e[2] >> 7));
                planes[1].push((e[3] & 0x80) | (e[2] & 0x7f));
                planes[2].push(e[1]);
                planes[3].push(e[0]);
            }
        }
    }
    planes
}

/// Interleaves planes back into elements; the inverse of [`split`].
// Planes are indexed in parallel; an iterator zip over four planes reads worse.
#[allow(clippy::needless_range_loop)]
pub fn merge(layout: Layout, planes: &[Vec<u8>], out: &mut Vec<u8>) {
    let n = planes.first().map_or(0, Vec::len);
    out.reserve(n * layout.width());
    for i in 0..n {
        match layout {
            Layout::Bf16 => {
                let (e, sm) = (planes[0][i], planes[1][i]);
                out.push(((e & 1) << 7) | (sm & 0x7f));
                out.push((sm & 0x80) | (e >> 1));
            }
            Layout::F16 => {
                out.push(planes[1][i]);
                out.push(planes[0][i]);
            }
            Layout::F32 => {
                let (e, sm) = (planes[0][i], planes[1][i]);
                out.push(planes[3][i]);
                out.push(planes[2][i]);
                out.push(((e & 1) << 7) | (sm & 0x7f));
                out.push((sm & 0x80) | (e >> 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_exponent_plane_is_the_exponent() {
        // 1.0 in bf16 is 0x3f80: exponent 127, sign 0, mantissa 0; -1.5 is 0xbfc0.
        let data = [0x80, 0x3f, 0xc0, 0xbf];
        let p = split(Layout::Bf16, &data);
        assert_eq!(p[0], [127, 127]);
        assert_eq!(p[1], [0x00, 0x80 | 0x40]);
        let mut back = Vec::new();
        merge(Layout::Bf16, &p, &mut back);
        assert_eq!(back, data);
    }

    #[test]
    fn f32_exponent_plane_is_the_exponent() {
        let data = (-2.0f32).to_le_bytes();
        let p = split(Layout::F32, &data);
        assert_eq!(p[0], [128]);
        assert_eq!(p[1], [0x80]);
    }
}
