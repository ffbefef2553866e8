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
    }
}
