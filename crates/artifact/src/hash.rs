//! Streaming sha256 of files, so multi-gigabyte weights are hashed in constant memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Read buffer size; 1 MiB keeps syscalls rare without holding much memory per rayon task.
const BUF_SIZE: usize = 1 << 20;

/// Returns `(lowercase hex sha256, byte count)` of the file at `path`, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(Error::io("opening", path))?;
    let (hash, bytes) = sha256_reader(&mut file).map_err(Error::io("reading", path))?;
    Ok((hash, bytes))
}

/// Hashes everything `reader` yields.
pub(crate) fn sha256_reader(reader: &mut impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Lowercase hex sha256 of a byte slice.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            sha256_bytes(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_matches_one_shot_across_buffer_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(BUF_SIZE * 2 + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let (hash, bytes) = sha256_file(&path).unwrap();
        assert_eq!(bytes, data.len() as u64);
        assert_eq!(hash, sha256_bytes(&data));
    }
}
