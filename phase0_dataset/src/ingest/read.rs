//! Streaming record reader for raw input files: plain, gzip or zstd (detected from the magic
//! bytes), holding JSON Lines or one top-level JSON array. Records come out one at a time with
//! the line they start on, so multi-gigabyte files are never loaded whole; a JSON array is split
//! by a small bracket-matching scanner (strings and escapes respected) so one bad element is
//! quarantined on its own instead of failing the file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const BUF_BYTES: usize = 1 << 20;

/// Compression of a raw file, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one or more members).
    Gzip,
    /// Zstandard.
    Zstd,
}

/// How the records of a file are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One JSON value per line.
    JsonLines,
    /// One top-level JSON array.
    JsonArray,
}

/// One raw record: the line it starts on (1-based) and its text, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line where the record starts.
    pub line: u64,
    /// The record text (lossily decoded when it was not UTF-8).
    pub text: String,
    /// Set when the record is structurally broken before JSON parsing (bad UTF-8, an
    /// unterminated array element, trailing garbage).
    pub broken: Option<String>,
}

/// Opens `path`, undoing gzip/zstd compression. A missing file, or a `.gz`/`.zst` name whose
/// content has no matching header, is an error.
pub fn open(path: &Path) -> anyhow::Result<(Box<dyn BufRead + Send>, Compression)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(BUF_BYTES, file);
    let head = reader
        .fill_buf()
        .with_context(|| format!("reading {}", path.display()))?;
    let compression = if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    };
    let name = path.to_string_lossy().to_ascii_lowercase();
    if (name.ends_with(".gz") && compression != Compression::Gzip)
        || ((name.ends_with(".zst") || name.ends_with(".zstd")) && compression != Compression::Zstd)
    {
        bail!(
            "{} has a compressed file name but no matching gzip/zstd header",
            path.display()
        );
    }
    let out: Box<dyn BufRead + Send> = match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF_BYTES,
            flate2::bufread::MultiGzDecoder::new(reader),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUF_BYTES,
            zstd::stream::read::Decoder::with_buffer(reader)
                .with_context(|| format!("starting zstd decoder for {}", path.display()))?,
        )),
    };
    Ok((out, compression))
}

/// Iterator over the records of one (decompressed) stream.
pub struct Records {
    reader: Box<dyn BufRead + Send>,
    layout: Layout,
    line: u64,
    done: bool,
    buf: Vec<u8>,
}

impl Records {
    /// Skips leading whitespace and a UTF-8 byte-order mark, then decides the layout from the
    /// first byte: `[` starts a JSON array, anything else is JSON Lines.
    pub fn new(mut reader: Box<dyn BufRead + Send>) -> std::io::Result<Records> {
        let mut line = 1;
        let mut first = true;
        let layout = loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break Layout::JsonLines;
            }
            if first && buf.starts_with(&[0xef, 0xbb, 0xbf]) {
                reader.consume(3);
                first = false;
                continue;
            }
            first = false;
            let b = buf[0];
            if b == b'[' {
                reader.consume(1);
                break Layout::JsonArray;
            }
            if !b.is_ascii_whitespace() {
                break Layout::JsonLines;
            }
            if b == b'\n' {
                line += 1;
            }
            reader.consume(1);
        };
        Ok(Records {
            reader,
            layout,
            line,
            done: false,
            buf: Vec::new(),
        })
    }

    /// The layout found by [`Records::new`].
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn next_line(&mut self) -> std::io::Result<Option<Record>> {
        loop {
            self.buf.clear();
            let n = self.reader.read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(None);
            }
            let line = self.line;
            self.line += 1;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(decode(line, &self.buf, None)));
        }
    }

    fn next_byte(&mut self) -> std::io::Result<Option<u8>> {
        let buf = self.reader.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.reader.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn next_element(&mut self) -> std::io::Result<Option<Record>> {
        // Skip whitespace and one separating comma before the element.
        let first = loop {
            match self.next_byte()? {
                None => {
                    self.done = true;
                    return Ok(Some(Record {
                        line: self.line,
                        text: String::new(),
                        broken: Some("json array is missing its closing `]`".into()),
                    }));
                }
                Some(b) if b.is_ascii_whitespace() || b == b',' => continue,
                Some(b']') => {
                    self.done = true;
                    return self.trailing();
                }
                Some(b) => break b,
            }
        };
        let start = self.line;
        self.buf.clear();
        self.buf.push(first);
        let (mut depth, mut in_str, mut esc) = (0usize, first == b'"', false);
        match first {
            b'{' | b'[' => depth = 1,
            b'"' => {}
            _ => {}
        }
        loop {
            let scalar_end = depth == 0 && !in_str;
            if scalar_end && first != b'"' {
                // A bare scalar: read up to the next separator without consuming it.
                let buf = self.reader.fill_buf()?;
                match buf.first() {
                    None => break,
                    Some(&b) if b == b',' || b == b']' || b.is_ascii_whitespace() => break,
                    Some(&b) => {
                        self.buf.push(b);
                        self.reader.consume(1);
                        continue;
                    }
                }
            }
            if scalar_end && first == b'"' && self.buf.len() > 1 {
                break;
            }
            let Some(b) = self.next_byte()? else {
                self.done = true;
                return Ok(Some(decode(
                    start,
                    &self.buf,
                    Some("unterminated json array element".into()),
                )));
            };
            self.buf.push(b);
            if in_str {
                if esc {
                    esc = false;
                } else if b == b'\\' {
                    esc = true;
                } else if b == b'"' {
                    in_str = false;
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        Ok(Some(decode(start, &self.buf, None)))
    }

    /// After the closing `]`: only whitespace may follow.
    fn trailing(&mut self) -> std::io::Result<Option<Record>> {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest)?;
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let line = self.line;
        let mut rec = decode(line, &rest, Some("data after the closing `]`".into()));
        rec.text.truncate(floor_char_boundary(&rec.text, 4096));
        Ok(Some(rec))
    }
}

impl Iterator for Records {
    type Item = std::io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.layout {
            Layout::JsonLines => self.next_line(),
            Layout::JsonArray => self.next_element(),
        };
        match r {
            Ok(Some(rec)) => Some(Ok(rec)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes record bytes; invalid UTF-8 marks the record broken.
fn decode(line: u64, bytes: &[u8], broken: Option<String>) -> Record {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Record {
            line,
            text: s.to_owned(),
            broken,
        },
        Err(e) => Record {
            line,
            text: String::from_utf8_lossy(bytes).into_owned(),
            broken: broken.or_else(|| Some(format!("invalid utf-8 at byte {}", e.valid_up_to()))),
        },
    }
}

/// The largest char boundary of `s` at or below `max`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> (Layout, Vec<Record>) {
        let reader: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let recs = Records::new(reader).unwrap();
        let layout = recs.layout();
        (layout, recs.map(|r| r.unwrap()).collect())
    }

    #[test]
    fn json_lines_with_blank_lines_keep_line_numbers() {
        let (layout, recs) = records("{\"a\":1}\n\n  \n{\"a\":2}\r\n{bad\n");
        assert_eq!(layout, Layout::JsonLines);
        let got: Vec<(u64, &str)> = recs.iter().map(|r| (r.line, r.text.as_str())).collect();
        assert_eq!(got, vec![(1, "{\"a\":1}"), (4, "{\"a\":2}"), (5, "{bad")]);
    }

    #[test]
    fn json_array_elements_with_tricky_strings() {
        let text = "\n[\n  {\"a\": \"x]}\\\"{\"},\n  {\"b\": [1, {\"c\": 2}]},\n  3, \"s,]\" ,\n  {\"d\": 4}\n]\n";
        let (layout, recs) = records(text);
        assert_eq!(layout, Layout::JsonArray);
        let got: Vec<(u64, &str)> = recs.iter().map(|r| (r.line, r.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, "{\"a\": \"x]}\\\"{\"}"),
                (4, "{\"b\": [1, {\"c\": 2}]}"),
                (5, "3"),
                (5, "\"s,]\""),
                (6, "{\"d\": 4}"),
            ]
        );
        assert!(recs.iter().all(|r| r.broken.is_none()));
    }

    #[test]
    fn truncated_array_reports_broken_element() {
        let (_, recs) = records("[{\"a\":1},\n{\"b\":");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].line, 2);
        assert_eq!(
            recs[1].broken.as_deref(),
            Some("unterminated json array element")
        );
        let (_, recs) = records("[{\"a\":1}\n");
        assert_eq!(recs.len(), 2);
        assert!(recs[1].broken.as_deref().unwrap().contains("closing"));
        let (_, recs) = records("[{\"a\":1}] junk");
        assert_eq!(recs.len(), 2);
        assert!(
            recs[1]
                .broken
                .as_deref()
                .unwrap()
                .contains("after the closing")
        );
    }

    #[test]
    fn invalid_utf8_is_a_broken_record() {
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(
            b"{\"a\":\"\xff\"}\n{\"a\":1}\n".to_vec(),
        ));
        let recs: Vec<Record> = Records::new(reader).unwrap().map(|r| r.unwrap()).collect();
        assert!(
            recs[0]
                .broken
                .as_deref()
                .unwrap()
                .starts_with("invalid utf-8")
        );
        assert!(recs[1].broken.is_none());
    }

    #[test]
    fn floor_char_boundary_never_splits_a_char() {
        let s = "aé";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(floor_char_boundary(s, 10), 3);
    }
}
