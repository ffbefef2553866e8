//! gRPC status codes by name: the upper-snake names of the protocol
//! (`UNAVAILABLE`), which the wire and analysis files use, and what the
//! other implementations write for them. Numbers, as the protocol numbers
//! them (tonic's `Code as i32`), so that the explorer, which links no
//! tonic, reads them too.

use serde_json::Value;

/// Every code's protocol name, by number (0, `OK`, to 16).
pub const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The protocol name of the code numbered `code` (`NOT_FOUND` for 5).
pub fn name(code: i32) -> Option<&'static str> {
    NAMES.get(usize::try_from(code).ok()?).copied()
}

/// The number of the code `value` names, as any implementation writes it:
/// the protocol's upper-snake name (`NOT_FOUND`), the reference's Python
/// enum (`StatusCode.NOT_FOUND`), tonic's variant (`NotFound`), or the
/// number (`5`, `"5"`). `None` for anything else: no code is guessed.
pub fn parse(value: &Value) -> Option<i32> {
    let number = match value {
        Value::Number(number) => number.as_u64().and_then(|n| usize::try_from(n).ok())?,
        Value::String(text) => {
            let text = text.trim();
            let text = text.strip_prefix("StatusCode.").unwrap_or(text);
            match text.parse::<usize>() {
                Ok(number) => number,
                Err(_) => by_name(text)?,
            }
        }
        _ => return None,
    };
    (number < NAMES.len()).then_some(number as i32)
}

/// The number of the code named `text`: `NOT_FOUND`, or the same letters
/// without underscores in any case (`NotFound`).
fn by_name(text: &str) -> Option<usize> {
    if let Some(number) = NAMES.iter().position(|name| *name == text) {
        return Some(number);
    }
    if text.contains('_') {
        return None;
    }
    NAMES.iter().position(|name| name.replace('_', "").eq_ignore_ascii_case(text))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_spelling_of_the_implementations_names_its_code() {
        let camel = [
            "Ok",
            "Cancelled",
            "Unknown",
            "InvalidArgument",
            "DeadlineExceeded",
            "NotFound",
            "AlreadyExists",
            "PermissionDenied",
            "ResourceExhausted",
            "FailedPrecondition",
            "Aborted",
            "OutOfRange",
            "Unimplemented",
            "Internal",
            "Unavailable",
            "DataLoss",
            "Unauthenticated",
        ];
        for (number, name) in NAMES.iter().enumerate() {
            let code = Some(number as i32);
            assert_eq!(parse(&json!(name)), code, "{name}");
            assert_eq!(parse(&json!(format!("StatusCode.{name}"))), code, "{name}");
            assert_eq!(parse(&json!(camel[number])), code, "{}", camel[number]);
            assert_eq!(parse(&json!(number)), code, "{name}");
            assert_eq!(parse(&json!(number.to_string())), code, "{name}");
            assert_eq!(self::name(number as i32), Some(*name));
        }
        for nonsense in [
            json!("UNAVAILABLE!"),
            json!(""),
            json!(17),
            json!("17"),
            json!(-1),
            json!(null),
            json!("NOT__FOUND"),
            json!("Not_Found"),
        ] {
            assert_eq!(parse(&nonsense), None, "{nonsense}");
        }
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn the_numbers_are_tonics() {
        for (number, name) in NAMES.iter().enumerate() {
            let code = tonic::Code::from_i32(number as i32);
            assert_eq!(code as i32, number as i32, "{name}");
            assert_eq!(format!("{code:?}").to_ascii_uppercase(), name.replace('_', ""), "{name}");
        }
    }
}
