//! Small helpers for the JSON texts of the protocol, which follow Python's
//! `json.dumps` spacing (`", "` and `": "`) so that the reference
//! implementation and this one print the same bytes.

/// Appends `s` to `out` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Rare: defer to serde_json for escapes (it cannot fail on a str).
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Appends the decimal digits of `n` to `out` (what `n.to_string()` gives,
/// without the formatting machinery or an allocation).
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// md5 of `bytes` as 32 lower-case hex digits.
pub fn md5_hex(bytes: impl AsRef<[u8]>) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes.as_ref());
    let mut out = String::with_capacity(32);
    for byte in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_empty_and_escapes() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        let mut s = String::new();
        push_json_str(&mut s, "a\"b");
        assert_eq!(s, r#""a\"b""#);
        for n in [0, 7, 10, 42, 1_000_000, u64::MAX] {
            let mut out = String::from("x");
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
