//! Small helpers for the JSON texts of the protocol, which follow Python's
//! `json.dumps` spacing (`", "` and `": "`) so that the reference
//! implementation and this one print the same bytes.

/// Appends `s` to `out` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    if is_plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Rare: defer to serde_json for escapes (it cannot fail on a str).
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Whether every byte of `bytes` stands for itself in a JSON string as
/// Python's `json.dumps` prints it: printable ASCII other than `"` and `\`.
/// Eight bytes at a time.
fn is_plain(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A high bit set in the byte of each lane equal to `byte`.
    let equal = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let plain = |word: u64| {
        // Below 0x20; 0x7f or above (0x7f + 1 sets the high bit, as do
        // bytes from 0x80, which cannot carry into a clean lane unnoticed);
        // `"`; `\\`.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let high = (word.wrapping_add(ONES) | word) & HIGH;
        control | high | equal(word, b'"') | equal(word, b'\\') == 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if !plain(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))) {
            return false;
        }
    }
    // The tail, padded with spaces.
    let mut tail = [b' '; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    plain(u64::from_le_bytes(tail))
}

/// Appends the decimal digits of `n` to `out` (what `n.to_string()` gives,
/// without the formatting machinery or an allocation).
pub(crate) fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A fast, non-cryptographic hasher (FxHash-like, eight bytes at a time),
/// for small maps and caches keyed by the runtime's own strings.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            h = (h.rotate_left(5) ^ word).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 = (h.rotate_left(5) ^ u64::from_le_bytes(tail) ^ bytes.len() as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

/// md5 of `bytes` as 32 lower-case hex digits.
pub fn md5_hex(bytes: impl AsRef<[u8]>) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes.as_ref());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    // Only ASCII hex digits were written.
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// [`md5_hex`] of a response body, remembered per thread for small bodies:
/// the calls of a test execution are made again in every execution, and
/// most answer the same bodies each time, so that a repeated body costs a
/// hash and a comparison instead of an md5. The cache is direct-mapped and
/// bounded ([`BODY_SLOTS`] bodies of at most [`MAX_CACHED_BODY`] bytes per
/// thread), and every hit is checked against the whole body, so that the
/// answer is always `md5_hex(body)`.
pub(crate) fn body_md5_hex(body: &[u8]) -> String {
    use std::hash::Hasher;
    if body.len() > MAX_CACHED_BODY {
        return md5_hex(body);
    }
    let mut hasher = FastHasher::default();
    hasher.write(body);
    let slot = (hasher.finish() % BODY_SLOTS as u64) as usize;
    BODY_DIGESTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.is_empty() {
            cache.resize_with(BODY_SLOTS, || None);
        }
        match &mut cache[slot] {
            Some((cached, digest)) if **cached == *body => digest.clone(),
            entry => {
                let digest = md5_hex(body);
                *entry = Some((Box::from(body), digest.clone()));
                digest
            }
        }
    })
}

/// Bodies [`body_md5_hex`] remembers per thread.
const BODY_SLOTS: usize = 64;
/// The longest body [`body_md5_hex`] remembers.
const MAX_CACHED_BODY: usize = 1024;

/// A remembered body and its md5 hex.
type BodyDigest = (Box<[u8]>, String);

thread_local! {
    static BODY_DIGESTS: std::cell::RefCell<Vec<Option<BodyDigest>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_strings_are_printed_as_serde_json_prints_them() {
        let mut texts: Vec<String> = (0u32..=0x100).filter_map(char::from_u32).map(String::from).collect();
        for c in ['a', '"', '\\', '\u{1f}', '\u{7f}', 'é', ' ', '~'] {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrs".chars().take(19).collect();
                s.insert(at, c);
                texts.push(s);
            }
        }
        for s in texts {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// Any string (a service name or hash from a header) prints as
        /// serde_json prints it; any number as `to_string` does.
        #[test]
        fn any_string_prints_as_serde_json_does(s in ".{0,40}|[ -~]{0,40}", n: u64) {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
            let mut digits = String::new();
            push_u64(&mut digits, n);
            proptest::prop_assert_eq!(digits, n.to_string());
        }
    }

    #[test]
    fn remembered_body_digests_are_md5s() {
        let bodies: Vec<Vec<u8>> = (0..400u32)
            .map(|i| (0..(i as usize * 7 % 1100)).map(|j| (j as u32 * 31 + i) as u8).collect())
            .collect();
        for _ in 0..3 {
            for body in &bodies {
                assert_eq!(body_md5_hex(body), md5_hex(body));
            }
        }
        assert_eq!(body_md5_hex(b""), md5_hex(""));
    }

    #[test]
    fn md5_of_empty_and_escapes() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        let mut s = String::new();
        push_json_str(&mut s, "a\"b");
        assert_eq!(s, r#""a\"b""#);
        for n in [0, 7, 9, 10, 42, 1_000_000, u64::MAX] {
            let mut out = String::from("x");
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
