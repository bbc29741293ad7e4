//! Step Functions' payload limit on state input and output.

use serde_json::Value;

use crate::error::{names, TaskError};

/// Step Functions' limit on a state's input or output: 256 KiB.
pub const DEFAULT_PAYLOAD_LIMIT: usize = 256 * 1024;

/// Whether `value` serialises to more than `limit` bytes (stops counting at the limit).
pub fn exceeds(value: &Value, limit: usize) -> bool {
    let mut counter = Counter { left: limit };
    serde_json::to_writer(&mut counter, value).is_err()
}

/// Fails with `States.DataLimitExceeded` when `value` is larger than `limit`; `what` describes
/// the value and is only built on failure.
pub fn check(
    value: &Value,
    limit: Option<usize>,
    what: impl FnOnce() -> String,
) -> Result<(), TaskError> {
    match limit {
        Some(limit) if exceeds(value, limit) => Err(TaskError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "{} is larger than the payload limit of {limit} bytes",
                what()
            ),
        )),
        _ => Ok(()),
    }
}

struct Counter {
    left: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.left.checked_sub(buf.len()) {
            Some(left) => {
                self.left = left;
                Ok(buf.len())
            }
            None => Err(std::io::Error::other("payload limit exceeded")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_serialised_bytes() {
        let value = json!("abc"); // 5 bytes with quotes
        assert!(!exceeds(&value, 5));
        assert!(exceeds(&value, 4));
        let err = check(&value, Some(4), || "the output of state `x`".into()).unwrap_err();
        assert_eq!(err.name(), names::DATA_LIMIT_EXCEEDED);
        assert!(err.message().starts_with("the output of state `x`"));
        assert!(check(&value, None, || unreachable!()).is_ok());
    }
}
