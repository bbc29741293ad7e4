//! State data: a list too large for a state's payload (10,000 records of 1 KB, about 10 MB)
//! is stored with `put_items`; a map over the pointer reads each record with
//! `get_item_for_map_iteration`; a last task aggregates and deletes the records. Only pointers
//! and small summaries travel between states. The records live in the project's SQLite file
//! (`.orkestra/orkestra.db`, or `$ORKESTRA_DB`).
//!
//! ```sh
//! cargo run --example state_data                                   # 10,000 records
//! cargo run --example state_data -- run --input '{"records": 500}'
//! ```

use orkestra::state_data::{ItemsPointer, MapIteration, StateDataError};
use orkestra::{compose, Context};
use serde::{Deserialize, Serialize};

/// How many records to produce, and how large each one's payload is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Number of records (default 10,000).
    #[serde(default = "default_records")]
    pub records: usize,
    /// Bytes of payload per record (default 1,000: about 1 KB of JSON each).
    #[serde(default = "default_record_bytes")]
    pub record_bytes: usize,
}

fn default_records() -> usize {
    10_000
}

fn default_record_bytes() -> usize {
    1_000
}

/// One record: an id, a category, and a payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record's number.
    pub id: u64,
    /// One of 10 categories.
    pub category: u8,
    /// Filler text.
    pub payload: String,
}

/// What one record contributes to the total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The record's category.
    pub category: u8,
    /// Its payload's length.
    pub bytes: u64,
}

/// The aggregate of every record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Records read.
    pub records: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Records per category, in category order.
    pub per_category: Vec<u64>,
    /// Stored records deleted once read.
    pub deleted: u64,
}

/// The record numbered `id`.
pub fn record(id: u64, bytes: usize) -> Record {
    let letter = (b'a' + (id % 26) as u8) as char;
    Record {
        id,
        category: (id % 10) as u8,
        payload: std::iter::repeat_n(letter, bytes).collect(),
    }
}

/// Stores every record under the key `records`; returns the pointer.
#[compose(state_data)]
pub async fn produce_records(
    job: Job,
    ctx: &Context,
) -> Result<ItemsPointer<Record>, StateDataError> {
    let records: Vec<Record> = (0..job.records as u64)
        .map(|id| record(id, job.record_bytes))
        .collect();
    ctx.state_data().put_items("records", &records).await
}

/// Reads this iteration's record from the store and scores it.
#[compose(map, state_data, max_concurrency = 64)]
pub async fn score_record(
    event: MapIteration<Record>,
    ctx: &Context,
) -> Result<Score, StateDataError> {
    let record = ctx.state_data().get_item_for_map_iteration(&event).await?;
    Ok(Score {
        category: record.category,
        bytes: record.payload.len() as u64,
    })
}

/// Adds the scores up, then deletes the stored records (they would expire after 7 days).
#[compose(state_data)]
pub async fn aggregate(scores: Vec<Score>, ctx: &Context) -> Result<Summary, StateDataError> {
    let mut per_category = vec![0; 10];
    for score in &scores {
        per_category[score.category as usize % 10] += 1;
    }
    let deleted = ctx.state_data().delete("records", None).await?;
    Ok(Summary {
        records: scores.len() as u64,
        bytes: scores.iter().map(|s| s.bytes).sum(),
        per_category,
        deleted,
    })
}

orkestra::workflow!(pub state_data_example = produce_records >> score_record >> aggregate);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
