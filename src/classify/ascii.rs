//! The ASCII classes the classifier's patterns use (compiled without Unicode), for the scans
//! and prefilters that stand in for a pattern.

/// `\w` without Unicode: an ASCII letter, digit or `_`.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `\s` without Unicode: ASCII space, `\t`, `\n`, `\v`, `\f`, `\r` (also the ASCII part of
/// Unicode `White_Space`, which `str::split_whitespace` uses).
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Whether `word` (ASCII) is at `i`, any case.
pub(crate) fn eq_at(bytes: &[u8], i: usize, word: &[u8]) -> bool {
    bytes
        .get(i..i + word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// Whether a word can start at `i`: the start, or after a byte that is not [`is_word`] (`\b`
/// before a word byte).
pub(crate) fn boundary_before(bytes: &[u8], i: usize) -> bool {
    i == 0 || !is_word(bytes[i - 1])
}

/// The first position at or after `i` that is not [`is_space`] (`\s*` from `i`).
pub(crate) fn skip_space(bytes: &[u8], i: usize) -> usize {
    i + bytes[i..].iter().take_while(|b| is_space(**b)).count()
}

/// Whether `word` (lowercase ASCII) starts at `i`, any case, after a word boundary (`\bword`).
/// The first byte gates the full compare, so most positions cost one test.
pub(crate) fn word_at(bytes: &[u8], i: usize, word: &[u8]) -> bool {
    bytes[i] | 0x20 == word[0] && eq_at(bytes, i, word) && boundary_before(bytes, i)
}
