//! Checksummed JSON lines: the record format of every journal and snapshot in the state
//! directory. Each record is one JSON object on one line whose last field is its CRC32C:
//!
//! ```text
//! {"op":"put","entry":{"sessionKey":"agent:main:42",…},"crc":"1c291ca3"}
//! ```
//!
//! The checksum covers the line's bytes before `,"crc":"`; every line stays valid JSON (`jq`
//! reads the files). A line whose checksum does not match, or that is not JSON, is damaged:
//! it is skipped and counted, and every other line is kept. Files written before checksums
//! (format 1) have lines without the field; they are read as they are.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, BufRead};

const CRC_OPEN: &[u8] = br#","crc":""#;
const CRC_TAIL_LEN: usize = CRC_OPEN.len() + 8 + 2; // `,"crc":"` + 8 hex + `"}`

/// Append `rec` (which must serialise to a JSON object) as one checksummed line.
pub(crate) fn push_line<T: Serialize + ?Sized>(buf: &mut Vec<u8>, rec: &T) {
    let start = buf.len();
    // Serialising plain data structs to a Vec cannot fail; newlines inside strings are
    // escaped, so every record is exactly one line.
    serde_json::to_writer(&mut *buf, rec).expect("state record serialises");
    debug_assert_eq!(buf.last(), Some(&b'}'), "records are JSON objects");
    buf.pop();
    let crc = crc32c::crc32c(&buf[start..]);
    buf.extend_from_slice(CRC_OPEN);
    buf.extend_from_slice(format!("{crc:08x}").as_bytes());
    buf.extend_from_slice(b"\"}\n");
}

/// What one line (without its newline) holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineCheck {
    /// Only whitespace.
    Blank,
    /// A line whose checksum matches.
    Sound,
    /// A line without a checksum field (format 1).
    Unchecked,
    /// A checksum field that does not match the line.
    Mismatch,
}

/// Check a line's checksum (not its JSON).
pub(crate) fn check(body: &[u8]) -> LineCheck {
    if body.iter().all(u8::is_ascii_whitespace) {
        return LineCheck::Blank;
    }
    let body = body.trim_ascii_end();
    if body.len() < CRC_TAIL_LEN || !body.ends_with(b"\"}") {
        return LineCheck::Unchecked;
    }
    let tail = body.len() - CRC_TAIL_LEN;
    if &body[tail..tail + CRC_OPEN.len()] != CRC_OPEN {
        return LineCheck::Unchecked;
    }
    let hex = &body[tail + CRC_OPEN.len()..body.len() - 2];
    let stored = std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok());
    match stored {
        Some(crc) if crc == crc32c::crc32c(&body[..tail]) => LineCheck::Sound,
        _ => LineCheck::Mismatch,
    }
}

/// Decode one line: `None` for a blank line, `Some(Err(()))` for a damaged one (checksum
/// mismatch, a missing checksum when `require_crc`, or JSON that is not an `R`).
pub(crate) fn decode<R: DeserializeOwned>(body: &[u8], require_crc: bool) -> Option<Result<R, ()>> {
    match check(body) {
        LineCheck::Blank => None,
        LineCheck::Mismatch => Some(Err(())),
        LineCheck::Unchecked if require_crc => Some(Err(())),
        LineCheck::Sound | LineCheck::Unchecked => {
            Some(serde_json::from_slice::<R>(body).map_err(drop))
        }
    }
}

/// A file's first line: its format version and the generation it belongs to.
pub(crate) trait Headed {
    /// `(version, generation)` when this record is a header line.
    fn header(&self) -> Option<(u32, u64)>;
}

/// What a scan of checksummed lines found.
#[derive(Debug)]
pub(crate) struct LineScan<R> {
    /// `(version, generation)` from a header on the first line, when scanning from the start.
    pub header: Option<(u32, u64)>,
    /// Readable non-header records in file order.
    pub records: Vec<R>,
    /// Complete lines that could not be read (damaged), header lines out of place included.
    pub bad_lines: usize,
    /// Bytes after the last newline: a write torn by a crash, never acknowledged.
    pub torn_tail: u64,
}

/// What a scan of lines found, apart from the records themselves.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineCounts {
    /// `(version, generation)` from a header on the first line, when scanning from the start.
    pub header: Option<(u32, u64)>,
    /// Readable non-header records.
    pub records: usize,
    /// Complete lines that could not be read (damaged), header lines out of place included.
    pub bad_lines: usize,
    /// Bytes up to and including the last newline.
    pub complete_len: u64,
    /// Bytes after the last newline: a write torn by a crash, never acknowledged.
    pub torn_tail: u64,
}

/// Read lines of records. `from_start`: the bytes begin at offset 0, where the header stands
/// (its version decides whether checksums are required: from `checksum_version` on).
/// Otherwise `require_crc` says it. Blank lines are ignored; every damaged line is counted and
/// skipped, and reading goes on.
pub(crate) fn scan<R: DeserializeOwned + Headed>(
    r: impl BufRead,
    from_start: bool,
    require_crc: bool,
    checksum_version: u32,
) -> io::Result<LineScan<R>> {
    let mut records = Vec::new();
    let counts = scan_each(
        r,
        from_start,
        require_crc,
        checksum_version,
        |body| decode::<R>(body, false).and_then(Result::ok)?.header(),
        |body, require_crc| match decode::<R>(body, require_crc) {
            Some(Ok(rec)) if rec.header().is_none() => {
                records.push(rec);
                true
            }
            _ => false,
        },
    )?;
    Ok(LineScan {
        header: counts.header,
        records,
        bad_lines: counts.bad_lines,
        torn_tail: counts.torn_tail,
    })
}

/// [`scan`] handing each line to the caller instead of collecting records, so a large file
/// is read without holding its records: `header_of` reads a first line as a header (its
/// checksum is checked here), `record` reads any other non-blank line given whether checksums
/// are required, and answers whether it was a sound record (`false` counts it damaged; a
/// header line there is damaged).
pub(crate) fn scan_each(
    mut r: impl BufRead,
    from_start: bool,
    mut require_crc: bool,
    checksum_version: u32,
    mut header_of: impl FnMut(&[u8]) -> Option<(u32, u64)>,
    mut record: impl FnMut(&[u8], bool) -> bool,
) -> io::Result<LineCounts> {
    let mut out = LineCounts::default();
    let mut line = Vec::new();
    let mut first = true;
    let mut on_line = |body: &[u8], out: &mut LineCounts| {
        out.complete_len += body.len() as u64 + 1;
        let at_start = std::mem::replace(&mut first, false);
        if body.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if at_start && from_start {
            // The header decides the format, so it is read with or without a checksum.
            if let Some((version, generation)) = header_of(body) {
                if check(body) == LineCheck::Mismatch {
                    out.bad_lines += 1;
                } else {
                    out.header = Some((version, generation));
                    require_crc = version >= checksum_version;
                }
                return;
            }
        }
        if record(body, require_crc) {
            out.records += 1;
        } else {
            out.bad_lines += 1;
        }
    };
    loop {
        // Lines wholly inside the reader's buffer are read in place; only a line that
        // straddles two fills is copied.
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let mut used = 0;
        while let Some(nl) = memchr::memchr(b'\n', &buf[used..]) {
            on_line(&buf[used..used + nl], &mut out);
            used += nl + 1;
        }
        if used > 0 {
            r.consume(used);
            continue;
        }
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            out.torn_tail = n as u64;
            break;
        }
        on_line(&line[..n - 1], &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    enum Rec {
        Header { version: u32, generation: u64 },
        Put { key: String },
    }

    impl Headed for Rec {
        fn header(&self) -> Option<(u32, u64)> {
            match self {
                Rec::Header {
                    version,
                    generation,
                } => Some((*version, *generation)),
                Rec::Put { .. } => None,
            }
        }
    }

    fn put(key: &str) -> Rec {
        Rec::Put { key: key.into() }
    }

    fn file(keys: &[&str]) -> Vec<u8> {
        let mut buf = Vec::new();
        push_line(
            &mut buf,
            &Rec::Header {
                version: 2,
                generation: 1,
            },
        );
        for k in keys {
            push_line(&mut buf, &put(k));
        }
        buf
    }

    fn read(bytes: &[u8]) -> LineScan<Rec> {
        scan(bytes, true, false, 2).unwrap()
    }

    #[test]
    fn lines_are_json_with_a_checksum_last() {
        let mut buf = Vec::new();
        push_line(&mut buf, &put("a\nb"));
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"op":"put","key":"a\nb","crc":""#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["crc"].as_str().unwrap().len(), 8);
        assert_eq!(check(&buf[..buf.len() - 1]), LineCheck::Sound);
    }

    #[test]
    fn every_single_bit_flip_drops_exactly_one_record_or_none() {
        let bytes = file(&["a", "b", "c"]);
        let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        for i in header_len..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let s = read(&b);
                let keys: Vec<&str> = s
                    .records
                    .iter()
                    .map(|r| match r {
                        Rec::Put { key } => key.as_str(),
                        Rec::Header { .. } => "header",
                    })
                    .collect();
                assert!(
                    keys.iter().all(|k| ["a", "b", "c"].contains(k)),
                    "byte {i} bit {bit}: a flipped record was accepted: {keys:?}"
                );
                let kept = keys.len();
                let lost = 3 - kept;
                assert!(lost <= 2, "byte {i} bit {bit}: lost {lost}");
                if b[i] != b'\n' && bytes[i] != b'\n' {
                    assert!(lost <= 1, "byte {i} bit {bit}: lost {lost}");
                    assert_eq!(s.bad_lines + s.torn_tail.min(1) as usize, lost, "byte {i}");
                }
            }
        }
    }

    #[test]
    fn old_lines_without_checksums_read_under_a_format_1_header() {
        let text =
            "{\"op\":\"header\",\"version\":1,\"generation\":3}\n{\"op\":\"put\",\"key\":\"a\"}\n";
        let s = read(text.as_bytes());
        assert_eq!(s.header, Some((1, 3)));
        assert_eq!(s.records, vec![put("a")]);
        // under a format 2 header the same line is damaged
        let mut v2 = file(&[]);
        v2.extend_from_slice(b"{\"op\":\"put\",\"key\":\"a\"}\n");
        let s = read(&v2);
        assert_eq!((s.records.len(), s.bad_lines), (0, 1));
    }

    #[test]
    fn torn_tail_garbage_nul_and_misplaced_headers() {
        let mut b = file(&["a"]);
        b.extend_from_slice(b"\x00\x00\x00\n");
        b.extend_from_slice(b"garbage\n\n");
        push_line(
            &mut b,
            &Rec::Header {
                version: 2,
                generation: 9,
            },
        );
        push_line(&mut b, &put("b"));
        let good = b.len();
        b.extend_from_slice(br#"{"op":"put","ke"#);
        let s = read(&b);
        assert_eq!(s.records, vec![put("a"), put("b")]);
        assert_eq!(s.bad_lines, 3);
        assert_eq!(s.torn_tail, (b.len() - good) as u64);
        let counts = scan_each(&b[..], true, false, 2, |_| None, |_, _| true).unwrap();
        assert_eq!(counts.complete_len, good as u64);
        // read through a small buffer, lines straddle its fills and are read the same
        let small = io::BufReader::with_capacity(7, &b[..]);
        let s2: LineScan<Rec> = scan(small, true, false, 2).unwrap();
        assert_eq!(
            (s2.records, s2.bad_lines, s2.torn_tail),
            (s.records, 3, s.torn_tail)
        );
    }
}
