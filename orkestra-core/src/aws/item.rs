//! The DynamoDB item schema (py2sfn-task-tools' layout): `partition_key` (S), numeric
//! `sort_key` (N), `expires_at` (N, the TTL attribute), and either `data` (the JSON text, S)
//! or `data_s3_key` (S) naming the S3 object that holds an item too large for DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::state_data::StateDataError;

/// Attribute names of a state data item.
pub mod attribute {
    /// Partition key (S): `<execution id>:<key>`.
    pub const PARTITION_KEY: &str = crate::export::state_data::PARTITION_KEY;
    /// Sort key (N): the item's index.
    pub const SORT_KEY: &str = crate::export::state_data::SORT_KEY;
    /// The item's JSON text (S), when it fits in the row.
    pub const DATA: &str = "data";
    /// The item's bytes (B), when they are not UTF-8 text (stored as given).
    pub const DATA_BYTES: &str = "data_bytes";
    /// The S3 object key (S) holding an item spilled to the state bucket.
    pub const DATA_S3_KEY: &str = "data_s3_key";
    /// Unix time in seconds (N) after which DynamoDB's TTL deletes the row.
    pub const EXPIRES_AT: &str = crate::export::state_data::EXPIRES_AT;
}

/// The largest item stored in DynamoDB itself, in bytes (attribute names and values). DynamoDB's
/// documented limit is 400 KB; this stays at 400,000 so that servers counting KB as 1,000
/// bytes accept it too. Larger items go to S3.
pub const MAX_ITEM_BYTES: usize = 400_000;

/// The most bytes a DynamoDB number can take (38 significant digits).
const MAX_NUMBER_BYTES: usize = 21;

/// How many bytes of data fit in a row of `partition_key` (the rest of the row counted at
/// its largest).
pub(crate) fn inline_capacity(partition_key: &str) -> usize {
    let fixed = attribute::PARTITION_KEY.len()
        + partition_key.len()
        + attribute::SORT_KEY.len()
        + MAX_NUMBER_BYTES
        + attribute::EXPIRES_AT.len()
        + MAX_NUMBER_BYTES
        + attribute::DATA_BYTES.len().max(attribute::DATA.len());
    MAX_ITEM_BYTES.saturating_sub(fixed)
}

/// Where an item's data lives.
pub(crate) enum Payload {
    /// In the row (`data` or `data_bytes`).
    Inline(Vec<u8>),
    /// In the state bucket, under this object key.
    Spilled(String),
}

/// The key attributes of a row.
pub(crate) fn key(partition_key: &str, index: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            attribute::PARTITION_KEY.to_string(),
            AttributeValue::S(partition_key.to_string()),
        ),
        (
            attribute::SORT_KEY.to_string(),
            AttributeValue::N(index.to_string()),
        ),
    ])
}

/// A whole row.
pub(crate) fn row(
    partition_key: &str,
    index: u64,
    payload: Payload,
    expires_at: i64,
) -> HashMap<String, AttributeValue> {
    let mut row = key(partition_key, index);
    row.insert(
        attribute::EXPIRES_AT.to_string(),
        AttributeValue::N(expires_at.to_string()),
    );
    let (name, value) = match payload {
        Payload::Inline(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (attribute::DATA, AttributeValue::S(text)),
            Err(bytes) => (
                attribute::DATA_BYTES,
                AttributeValue::B(bytes.into_bytes().into()),
            ),
        },
        Payload::Spilled(object_key) => (attribute::DATA_S3_KEY, AttributeValue::S(object_key)),
    };
    row.insert(name.to_string(), value);
    row
}

/// A row read back: its index, where its data is, and when it expires.
pub(crate) struct Row {
    pub index: u64,
    pub payload: Payload,
    pub expires_at: Option<i64>,
}

impl Row {
    /// Whether the row's TTL has passed (DynamoDB deletes expired rows only eventually, so
    /// reads skip them).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Decodes a row of `table` / `partition_key`.
pub(crate) fn decode(
    table: &str,
    partition_key: &str,
    row: &HashMap<String, AttributeValue>,
) -> Result<Row, StateDataError> {
    let corrupt = |index: u64, message: String| StateDataError::Corrupt {
        partition_key: partition_key.to_string(),
        table: table.to_string(),
        index,
        message,
    };
    let index = match row.get(attribute::SORT_KEY) {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|e| corrupt(0, format!("sort_key {n:?} is not an index: {e}")))?,
        other => return Err(corrupt(0, format!("sort_key is {other:?}, not a number"))),
    };
    let expires_at = match row.get(attribute::EXPIRES_AT) {
        Some(AttributeValue::N(n)) => Some(
            n.parse::<i64>()
                .map_err(|e| corrupt(index, format!("expires_at {n:?} is not a time: {e}")))?,
        ),
        _ => None,
    };
    let payload = match (
        row.get(attribute::DATA),
        row.get(attribute::DATA_BYTES),
        row.get(attribute::DATA_S3_KEY),
    ) {
        (Some(AttributeValue::S(text)), _, _) => Payload::Inline(text.clone().into_bytes()),
        (_, Some(AttributeValue::B(bytes)), _) => Payload::Inline(bytes.clone().into_inner()),
        (_, _, Some(AttributeValue::S(object_key))) => Payload::Spilled(object_key.clone()),
        _ => {
            return Err(corrupt(
                index,
                format!(
                    "the row has no `{}` (S), `{}` (B) or `{}` (S) attribute",
                    attribute::DATA,
                    attribute::DATA_BYTES,
                    attribute::DATA_S3_KEY
                ),
            ))
        }
    };
    Ok(Row {
        index,
        payload,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_text_bytes_and_pointers() {
        let text = row("e:k", 3, Payload::Inline(b"{\"a\":1}".to_vec()), 99);
        assert_eq!(text[attribute::DATA], AttributeValue::S("{\"a\":1}".into()));
        let back = decode("t", "e:k", &text).unwrap();
        assert_eq!(back.index, 3);
        assert_eq!(back.expires_at, Some(99));
        assert!(back.expired(99) && !back.expired(98));
        assert!(matches!(back.payload, Payload::Inline(ref d) if d == b"{\"a\":1}"));

        let bytes = row("e:k", 0, Payload::Inline(vec![0xff, 0x00]), 1);
        assert!(bytes.contains_key(attribute::DATA_BYTES));
        let back = decode("t", "e:k", &bytes).unwrap();
        assert!(matches!(back.payload, Payload::Inline(ref d) if d == &[0xff, 0x00]));

        let spilled = row("e:k", 1, Payload::Spilled("t/x.json".into()), 1);
        let back = decode("t", "e:k", &spilled).unwrap();
        assert!(matches!(back.payload, Payload::Spilled(ref k) if k == "t/x.json"));
    }

    #[test]
    fn a_row_without_data_is_corrupt_and_named() {
        let mut bad = key("e:k", 7);
        let error = decode("tbl", "e:k", &bad).err().unwrap();
        assert!(
            matches!(&error, StateDataError::Corrupt { index: 7, table, .. } if table == "tbl"),
            "{error}"
        );
        bad.insert(attribute::SORT_KEY.into(), AttributeValue::S("x".into()));
        assert!(decode("tbl", "e:k", &bad)
            .err()
            .unwrap()
            .to_string()
            .contains("sort_key"));
    }

    #[test]
    fn capacity_leaves_room_for_the_rest_of_the_row() {
        let pk = "exec-1:records";
        let capacity = inline_capacity(pk);
        assert!(capacity < MAX_ITEM_BYTES && capacity > MAX_ITEM_BYTES - 200);
        assert_eq!(inline_capacity(pk) - inline_capacity(&format!("{pk}xx")), 2);
    }
}
