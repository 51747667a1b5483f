//! Order-0 rANS entropy coding of one byte plane, with a per-frame static frequency table.
//!
//! Follows Duda's asymmetric numeral systems in the byte-renormalised 32-bit form of
//! F. Giesen's public-domain `rans_byte.h` (state in `[2²³, 2³¹)`, 15-bit probabilities).
//! Exponent planes of trained weights have ~2.7 bits of entropy per byte; zstd's Huffman-coded
//! literals reach ~2.8, this reaches the entropy plus a few bytes of table, and it also takes
//! the last fraction of a bit out of sign-mantissa planes (7.97 bits, which zstd stores raw).
//!
//! Frame: `n` (u32 LE), the number of distinct symbols `k` (u16 LE), `k` × (symbol u8, frequency
//! u16 LE), then the rANS bytes. Frequencies sum to 2¹⁵.

const SCALE_BITS: u32 = 15;
const M: u32 = 1 << SCALE_BITS;
const L: u32 = 1 << 23;

/// Normalised frequencies (sum `M`, every present symbol ≥ 1).
fn normalise(counts: &[u64; 256]) -> [u32; 256] {
    let total: u64 = counts.iter().sum();
    let mut f = [0u32; 256];
    if total == 0 {
        return f;
    }
    for (fi, &c) in f.iter_mut().zip(counts) {
        if c > 0 {
            *fi = ((c * u64::from(M)) / total).max(1) as u32;
        }
    }
    // Give the rounding difference to (or take it from) the most frequent symbol.
    let sum: u32 = f.iter().sum();
    let top = (0..256).max_by_key(|&s| f[s]).expect("256 symbols");
    if sum > M {
        let mut over = sum - M;
        // Taking it all from one symbol could push it below 1 on pathological tables; spread it.
        let mut order: Vec<usize> = (0..256).filter(|&s| f[s] > 1).collect();
        order.sort_by_key(|&s| std::cmp::Reverse(f[s]));
        for s in order {
            let take = over.min(f[s] - 1);
            f[s] -= take;
            over -= take;
            if over == 0 {
                break;
            }
        }
    } else {
        f[top] += M - sum;
    }
    f
}

/// Encodes `data` as one frame.
pub(crate) fn encode(data: &[u8]) -> Vec<u8> {
    let mut counts = [0u64; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let freq = normalise(&counts);
    let mut cum = [0u32; 257];
    for s in 0..256 {
        cum[s + 1] = cum[s] + freq[s];
    }
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let present: Vec<usize> = (0..256).filter(|&s| freq[s] > 0).collect();
    out.extend_from_slice(&(present.len() as u16).to_le_bytes());
    for &s in &present {
        out.push(s as u8);
        out.extend_from_slice(&(freq[s] as u16).to_le_bytes());
    }
    // rANS encodes backwards; the bytes are emitted in reverse and flipped at the end.
    let mut rev = Vec::with_capacity(data.len());
    let mut x = L;
    for &b in data.iter().rev() {
        let (f, c) = (freq[b as usize], cum[b as usize]);
        let x_max = ((L >> SCALE_BITS) << 8) * f;
        while x >= x_max {
            rev.push(x as u8);
            x >>= 8;
        }
        x = ((x / f) << SCALE_BITS) + (x % f) + c;
    }
    rev.extend_from_slice(&x.to_le_bytes());
    rev.reverse();
    out.extend_from_slice(&rev);
    out
}

/// Decodes one frame; `None` when it is malformed.
pub(crate) fn decode(frame: &[u8]) -> Option<Vec<u8>> {
    let n = u32::from_le_bytes(frame.get(..4)?.try_into().ok()?) as usize;
    let k = u16::from_le_bytes(frame.get(4..6)?.try_into().ok()?) as usize;
    let mut at = 6;
    let mut freq = [0u32; 256];
    for _ in 0..k {
        let s = *frame.get(at)? as usize;
        freq[s] = u32::from(u16::from_le_bytes(
            frame.get(at + 1..at + 3)?.try_into().ok()?,
        ));
        at += 3;
    }
    if n > 0 && freq.iter().sum::<u32>() != M {
        return None;
    }
    let mut cum = [0u32; 257];
    for s in 0..256 {
        cum[s + 1] = cum[s] + freq[s];
    }
    let mut slot_sym = vec![0u8; M as usize];
    for s in 0..256 {
        slot_sym[cum[s] as usize..cum[s + 1] as usize].fill(s as u8);
    }
    let bytes = &frame[at..];
    let mut pos = 4;
    let mut x = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let slot = x & (M - 1);
        let s = slot_sym[slot as usize];
        let (f, c) = (freq[s as usize], cum[s as usize]);
        x = f * (x >> SCALE_BITS) + slot - c;
        while x < L {
            x = (x << 8) | u32::from(*bytes.get(pos)?);
            pos += 1;
        }
        out.push(s);
    }
    (pos == bytes.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reaches_the_entropy() {
        // A skewed distribution of 200k symbols: ~1.5 bits each.
        let mut s = 12345u64;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 40) as u32 % 1000;
                match u {
                    0..=599 => 120,
                    600..=849 => 121,
                    850..=949 => 119,
                    _ => (u % 7) as u8,
                }
            })
            .collect();
        let enc = encode(&data);
        assert_eq!(decode(&enc).unwrap(), data);
        let mut counts = [0f64; 256];
        data.iter().for_each(|&b| counts[b as usize] += 1.0);
        let h: f64 = counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| {
                let p = c / data.len() as f64;
                -p * p.log2()
            })
            .sum();
        let bits = enc.len() as f64 * 8.0 / data.len() as f64;
        assert!(bits < h + 0.01, "{bits} bits/symbol vs entropy {h}");
    }

    #[test]
    fn edge_cases() {
        for data in [
            vec![],
            vec![7u8],
            vec![0u8; 1000],
            (0..=255u8).collect::<Vec<_>>(),
        ] {
            assert_eq!(decode(&encode(&data)).unwrap(), data);
        }
        let enc = encode(b"hello world, hello rANS");
        assert!(decode(&enc[..enc.len() - 1]).is_none(), "truncated");
    }
}
