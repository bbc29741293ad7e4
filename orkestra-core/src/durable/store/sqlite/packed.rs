//! [`PackedOp`]: an operation write as the writer thread receives it, with all its text in one
//! buffer.
//!
//! A record's strings are allocated by the task that checkpoints; freeing them on the writer
//! thread (another malloc arena) cost more than the SQLite insert itself. Packing copies them
//! into one buffer on the calling thread, so the writer frees one allocation per write.

use crate::durable::store::{OperationRecord, OperationStatus, OperationType};

/// The text fields of a packed write, in buffer order.
#[derive(Clone, Copy)]
pub(super) enum Field {
    ExecutionId,
    OpId,
    ParentId,
    SubType,
    Name,
    Result,
    Error,
    CallbackId,
}

const FIELDS: usize = 8;

/// One operation write, its text fields concatenated in one buffer.
pub(super) struct PackedOp {
    buf: String,
    /// End offset of each field in `buf` (a field starts where the previous one ends).
    ends: [u32; FIELDS],
    /// Bit `i` set: field `i` is present (optional fields may be absent).
    present: u8,
    pub(super) op_type: OperationType,
    pub(super) status: OperationStatus,
    pub(super) attempt: u32,
    pub(super) scheduled_end_ms: Option<u64>,
    pub(super) next_attempt_ms: Option<u64>,
    pub(super) replay_children: bool,
}

impl PackedOp {
    /// Packs `record` of execution `execution_id` (the error is encoded as its JSON text).
    pub(super) fn pack(execution_id: &str, record: &OperationRecord) -> Self {
        let error = record
            .error
            .as_ref()
            .map(|e| serde_json::to_string(e).expect("ErrorObject serializes"));
        let fields: [Option<&str>; FIELDS] = [
            Some(execution_id),
            Some(&record.id),
            record.parent_id.as_deref(),
            record.sub_type.as_deref(),
            record.name.as_deref(),
            record.result.as_deref(),
            error.as_deref(),
            record.details.callback_id.as_deref(),
        ];
        let len = fields.iter().flatten().map(|f| f.len()).sum();
        let mut packed = PackedOp {
            buf: String::with_capacity(len),
            ends: [0; FIELDS],
            present: 0,
            op_type: record.op_type,
            status: record.status,
            attempt: record.attempt,
            scheduled_end_ms: record.details.scheduled_end_ms,
            next_attempt_ms: record.details.next_attempt_ms,
            replay_children: record.details.replay_children,
        };
        for (i, field) in fields.iter().enumerate() {
            if let Some(text) = field {
                packed.buf.push_str(text);
                packed.present |= 1 << i;
            }
            packed.ends[i] = u32::try_from(packed.buf.len()).expect("a checkpoint under 4 GiB");
        }
        packed
    }

    /// A field's text, if present.
    pub(super) fn get(&self, field: Field) -> Option<&str> {
        let i = field as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.buf[start..self.ends[i] as usize])
    }

    /// The length of all its text.
    pub(super) fn text_len(&self) -> usize {
        self.buf.len()
    }

    /// The execution id.
    pub(super) fn execution_id(&self) -> &str {
        self.get(Field::ExecutionId).unwrap_or_default()
    }

    /// The operation id.
    pub(super) fn op_id(&self) -> &str {
        self.get(Field::OpId).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::store::ErrorObject;

    #[test]
    fn fields_round_trip_including_absent_and_empty_ones() {
        let record = OperationRecord {
            id: "op".into(),
            parent_id: None,
            op_type: OperationType::Step,
            sub_type: Some(String::new()),
            name: Some("n".into()),
            status: OperationStatus::Failed,
            result: None,
            error: Some(ErrorObject::new("E", "m")),
            attempt: 3,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        };
        let p = PackedOp::pack("exec", &record);
        assert_eq!(p.execution_id(), "exec");
        assert_eq!(p.op_id(), "op");
        assert_eq!(p.get(Field::ParentId), None);
        assert_eq!(p.get(Field::SubType), Some(""));
        assert_eq!(p.get(Field::Name), Some("n"));
        assert_eq!(p.get(Field::Result), None);
        assert_eq!(
            p.get(Field::Error),
            Some(r#"{"ErrorType":"E","ErrorMessage":"m"}"#)
        );
        assert_eq!((p.status, p.attempt), (OperationStatus::Failed, 3));
    }
}
