//! The state data backend contract, as generic async checks any [`StateDataStore`] must pass
//! (DynamoDB + S3 in `tests/state_data_backends.rs`; the SQLite backend runs the same).
//!
//! Every check writes under fresh partition keys, so the suite can run many times against one
//! table. [`run_all`] runs every check; each is also public, so a backend's test file can give
//! each its own `#[tokio::test]` (see [`suite_tests!`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use orkestra::state_data::{StateDataError, StateDataStore, StoredItem};

/// What a backend under test is given: the store, and the names to use.
#[derive(Clone)]
pub struct Suite {
    /// The store under test.
    pub store: Arc<dyn StateDataStore>,
    /// A second existing table (writes must go to the table named, not the default one).
    pub other_table: String,
    /// A table that does not exist.
    pub missing_table: String,
    /// Item sizes (bytes) to round-trip besides 1 MB, e.g. each side of the backend's
    /// offload threshold.
    pub boundary_sizes: Vec<usize>,
    /// Whether reads skip rows whose `expires_at` has passed.
    pub filters_expired: bool,
}

impl Suite {
    fn table(&self) -> String {
        self.store.default_table().to_string()
    }
}

/// Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A week from now: the default TTL.
pub fn next_week() -> i64 {
    now() + 7 * 24 * 3600
}

/// A partition key no other check (or run) uses: `<unique execution id>:<key>`.
pub fn fresh_partition(key: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("exec-{}-{nanos}-{n}:{key}", std::process::id())
}

/// A JSON item of `index`.
pub fn item(index: u64, value: serde_json::Value) -> StoredItem {
    StoredItem {
        index,
        data: serde_json::to_vec(&value).unwrap(),
    }
}

/// A JSON string of exactly `size` bytes whose content varies with `seed` (so a swapped or
/// truncated item shows).
pub fn sized_json(size: usize, seed: u64) -> Vec<u8> {
    assert!(size >= 2);
    let mut data = Vec::with_capacity(size);
    data.push(b'"');
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    while data.len() < size - 1 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        data.push(b'a' + (state >> 59) as u8 % 26);
    }
    data.push(b'"');
    data
}

fn json(item: &StoredItem) -> serde_json::Value {
    serde_json::from_slice(&item.data).expect("stored JSON comes back as JSON")
}

/// put, get, and put again under the same index replaces.
pub async fn put_get_replace(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("character");
    let store = &s.store;
    store
        .put(
            &table,
            &pk,
            item(0, serde_json::json!({"name": "jerry"})),
            next_week(),
        )
        .await
        .unwrap();
    store
        .put(
            &table,
            &pk,
            item(24, serde_json::json!({"name": "elaine"})),
            next_week(),
        )
        .await
        .unwrap();
    let first = store.get(&table, &pk, 0).await.unwrap().expect("item 0");
    assert_eq!(first.index, 0);
    assert_eq!(json(&first), serde_json::json!({"name": "jerry"}));
    let other = store.get(&table, &pk, 24).await.unwrap().expect("item 24");
    assert_eq!(json(&other), serde_json::json!({"name": "elaine"}));

    store
        .put(
            &table,
            &pk,
            item(0, serde_json::json!({"name": "george"})),
            next_week(),
        )
        .await
        .unwrap();
    let replaced = store.get(&table, &pk, 0).await.unwrap().unwrap();
    assert_eq!(json(&replaced), serde_json::json!({"name": "george"}));
    assert_eq!(store.get_all(&table, &pk).await.unwrap().len(), 2);
}

/// A missing row, a missing index and an empty partition read as nothing (not an error).
pub async fn missing_items_are_none(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("nothing");
    assert_eq!(s.store.get(&table, &pk, 0).await.unwrap(), None);
    assert!(s.store.get_all(&table, &pk).await.unwrap().is_empty());
    s.store
        .put(&table, &pk, item(1, serde_json::json!(1)), next_week())
        .await
        .unwrap();
    assert_eq!(s.store.get(&table, &pk, 0).await.unwrap(), None);
    assert_eq!(s.store.get(&table, &pk, 2).await.unwrap(), None);
    assert_eq!(s.store.delete(&table, &pk, Some(5)).await.unwrap(), 0);
}

/// put_many stores each element under its index; get_all returns them ordered by index
/// (numerically: 2 before 10), across several write batches.
pub async fn put_many_and_get_all_in_index_order(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("records");
    // Given out of order, more than one DynamoDB batch (25) and with two-digit indexes.
    let mut items: Vec<StoredItem> = (0..60)
        .map(|i| {
            item(
                i,
                serde_json::json!({"id": i, "text": format!("record {i}")}),
            )
        })
        .collect();
    items.reverse();
    s.store
        .put_many(&table, &pk, items, next_week())
        .await
        .unwrap();
    let all = s.store.get_all(&table, &pk).await.unwrap();
    assert_eq!(all.len(), 60);
    for (position, stored) in all.iter().enumerate() {
        assert_eq!(stored.index, position as u64);
        assert_eq!(json(stored)["id"], position);
    }
    let one = s.store.get(&table, &pk, 42).await.unwrap().unwrap();
    assert_eq!(json(&one)["text"], "record 42");
    // put_many of nothing is allowed and stores nothing.
    let empty = fresh_partition("empty");
    s.store
        .put_many(&table, &empty, Vec::new(), next_week())
        .await
        .unwrap();
    assert!(s.store.get_all(&table, &empty).await.unwrap().is_empty());
}

/// delete removes one row, then the whole partition, counting rows removed.
pub async fn delete_one_and_all(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("doomed");
    let items = (0..30).map(|i| item(i, serde_json::json!(i))).collect();
    s.store
        .put_many(&table, &pk, items, next_week())
        .await
        .unwrap();
    assert_eq!(s.store.delete(&table, &pk, Some(3)).await.unwrap(), 1);
    assert_eq!(s.store.get(&table, &pk, 3).await.unwrap(), None);
    assert_eq!(s.store.get_all(&table, &pk).await.unwrap().len(), 29);
    assert_eq!(s.store.delete(&table, &pk, None).await.unwrap(), 29);
    assert!(s.store.get_all(&table, &pk).await.unwrap().is_empty());
    assert_eq!(s.store.delete(&table, &pk, None).await.unwrap(), 0);
}

/// Partitions are separate: the same key under another execution is another item.
pub async fn partitions_are_isolated(s: Suite) {
    let table = s.table();
    let mine = fresh_partition("shared-key");
    let theirs = fresh_partition("shared-key");
    s.store
        .put(
            &table,
            &mine,
            item(0, serde_json::json!("mine")),
            next_week(),
        )
        .await
        .unwrap();
    s.store
        .put(
            &table,
            &theirs,
            item(0, serde_json::json!("theirs")),
            next_week(),
        )
        .await
        .unwrap();
    let got = s.store.get(&table, &mine, 0).await.unwrap().unwrap();
    assert_eq!(json(&got), serde_json::json!("mine"));
    s.store.delete(&table, &theirs, None).await.unwrap();
    assert!(s.store.get(&table, &mine, 0).await.unwrap().is_some());
}

/// Writes go to the table named, not to the default one.
pub async fn writes_go_to_the_table_named(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("global");
    s.store
        .put(
            &s.other_table,
            &pk,
            item(0, serde_json::json!("elsewhere")),
            next_week(),
        )
        .await
        .unwrap();
    s.store
        .put_many(
            &s.other_table,
            &pk,
            vec![item(1, serde_json::json!("also elsewhere"))],
            next_week(),
        )
        .await
        .unwrap();
    assert!(s.store.get(&table, &pk, 0).await.unwrap().is_none());
    assert!(s.store.get_all(&table, &pk).await.unwrap().is_empty());
    let there = s.store.get_all(&s.other_table, &pk).await.unwrap();
    assert_eq!(there.len(), 2);
    assert_eq!(json(&there[0]), serde_json::json!("elsewhere"));
}

/// Every operation on a table that does not exist is `UnknownTable` naming it.
pub async fn unknown_table_is_an_error(s: Suite) {
    let missing = s.missing_table.as_str();
    let pk = fresh_partition("lost");
    let check = |result: Result<(), StateDataError>, operation: &str| match result {
        Err(StateDataError::UnknownTable { table }) => assert_eq!(table, missing, "{operation}"),
        other => panic!("{operation} on a missing table gave {other:?}"),
    };
    check(
        s.store
            .put(missing, &pk, item(0, serde_json::json!(1)), next_week())
            .await,
        "put",
    );
    check(
        s.store
            .put_many(
                missing,
                &pk,
                vec![item(0, serde_json::json!(1))],
                next_week(),
            )
            .await,
        "put_many",
    );
    check(s.store.get(missing, &pk, 0).await.map(drop), "get");
    check(s.store.get_all(missing, &pk).await.map(drop), "get_all");
    check(
        s.store.delete(missing, &pk, Some(0)).await.map(drop),
        "delete one",
    );
    check(
        s.store.delete(missing, &pk, None).await.map(drop),
        "delete all",
    );
}

/// Rows whose `expires_at` has passed are not read (if the backend filters them).
pub async fn expired_rows_are_not_returned(s: Suite) {
    if !s.filters_expired {
        eprintln!("skipping: this backend does not filter expired rows on read");
        return;
    }
    let table = s.table();
    let pk = fresh_partition("stale");
    s.store
        .put(&table, &pk, item(0, serde_json::json!("old")), now() - 60)
        .await
        .unwrap();
    s.store
        .put_many(
            &table,
            &pk,
            vec![
                item(1, serde_json::json!("old too")),
                item(2, serde_json::json!("old as well")),
            ],
            now() - 1,
        )
        .await
        .unwrap();
    s.store
        .put(
            &table,
            &pk,
            item(3, serde_json::json!("fresh")),
            next_week(),
        )
        .await
        .unwrap();
    assert_eq!(s.store.get(&table, &pk, 0).await.unwrap(), None);
    let all = s.store.get_all(&table, &pk).await.unwrap();
    assert_eq!(all.iter().map(|i| i.index).collect::<Vec<_>>(), [3]);
}

/// Items of 1 MB (over DynamoDB's 400 KB) and at each boundary size round-trip byte for byte,
/// alone and through put_many; replacing and deleting them works.
pub async fn large_items_round_trip(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("large");
    let mut sizes = vec![1 << 20];
    sizes.extend(&s.boundary_sizes);
    for (n, &size) in sizes.iter().enumerate() {
        let data = sized_json(size, n as u64);
        s.store
            .put(
                &table,
                &pk,
                StoredItem {
                    index: n as u64,
                    data: data.clone(),
                },
                next_week(),
            )
            .await
            .unwrap();
        let back = s.store.get(&table, &pk, n as u64).await.unwrap().unwrap();
        assert_eq!(back.data.len(), size, "size {size}");
        assert!(back.data == data, "item of {size} bytes came back changed");
    }
    // Replacing a large item with a small one, and reading the list back in order.
    s.store
        .put(
            &table,
            &pk,
            item(0, serde_json::json!("small now")),
            next_week(),
        )
        .await
        .unwrap();
    let all = s.store.get_all(&table, &pk).await.unwrap();
    assert_eq!(all.len(), sizes.len());
    assert_eq!(json(&all[0]), serde_json::json!("small now"));
    for (n, stored) in all.iter().enumerate().skip(1) {
        assert_eq!(stored.index, n as u64);
        assert!(stored.data == sized_json(sizes[n], n as u64));
    }

    let many = fresh_partition("large-many");
    let items = (0..3)
        .map(|i| StoredItem {
            index: i,
            data: if i == 1 {
                sized_json(1 << 20, 100 + i)
            } else {
                sized_json(100, 100 + i)
            },
        })
        .collect();
    s.store
        .put_many(&table, &many, items, next_week())
        .await
        .unwrap();
    let all = s.store.get_all(&table, &many).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[1].data == sized_json(1 << 20, 101));
    assert!(all[2].data == sized_json(100, 102));
    assert_eq!(s.store.delete(&table, &many, None).await.unwrap(), 3);
    assert!(s.store.get(&table, &many, 1).await.unwrap().is_none());
}

/// Stored bytes come back as given, even when they are not valid JSON (decoding, and the
/// `Corrupt` error, belong to the client).
pub async fn bytes_come_back_as_given(s: Suite) {
    let table = s.table();
    let pk = fresh_partition("raw");
    for (index, data) in [
        b"{not json".to_vec(),
        "\"h\u{e9}llo \u{1f600}\"".as_bytes().to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
    ]
    .into_iter()
    .enumerate()
    {
        let stored = StoredItem {
            index: index as u64,
            data,
        };
        s.store
            .put(&table, &pk, stored.clone(), next_week())
            .await
            .unwrap();
        assert_eq!(
            s.store.get(&table, &pk, index as u64).await.unwrap(),
            Some(stored)
        );
    }
}

/// Every check above, one after another.
pub async fn run_all(s: Suite) {
    put_get_replace(s.clone()).await;
    missing_items_are_none(s.clone()).await;
    put_many_and_get_all_in_index_order(s.clone()).await;
    delete_one_and_all(s.clone()).await;
    partitions_are_isolated(s.clone()).await;
    writes_go_to_the_table_named(s.clone()).await;
    unknown_table_is_an_error(s.clone()).await;
    expired_rows_are_not_returned(s.clone()).await;
    large_items_round_trip(s.clone()).await;
    bytes_come_back_as_given(s).await;
}

/// One `#[tokio::test]` per check: `suite_tests!(setup)` where `async fn setup() ->
/// Option<Suite>` gives `None` to skip (a missing server outside CI). Include this module
/// with `#[macro_use]`.
macro_rules! suite_tests {
    ($setup:path) => {
        suite_tests!($setup;
            put_get_replace, missing_items_are_none, put_many_and_get_all_in_index_order,
            delete_one_and_all, partitions_are_isolated, writes_go_to_the_table_named,
            unknown_table_is_an_error, expired_rows_are_not_returned, large_items_round_trip,
            bytes_come_back_as_given);
    };
    ($setup:path; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(suite) = $setup().await {
                    state_data_suite::$check(suite).await;
                }
            }
        )+
    };
}
