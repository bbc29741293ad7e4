//! The state data backend contract (`tests/support/state_data_suite.rs`) run against the
//! embedded SQLite store: the same checks DynamoDB + S3 pass in `tests/state_data_backends.rs`.

#[allow(dead_code)]
#[macro_use]
#[path = "support/state_data_suite.rs"]
mod state_data_suite;

use std::sync::Arc;

use orkestra::state_data::SqliteStateStore;
use state_data_suite::Suite;

/// A fresh database file with a second table created, as a deployment would provision one.
async fn sqlite_suite() -> Option<Suite> {
    let dir = std::env::temp_dir().join(format!(
        "orkestra-state-suite-{}-{}",
        std::process::id(),
        state_data_suite::fresh_partition("db").replace(':', "-")
    ));
    let store = SqliteStateStore::open(dir.join("orkestra.db")).unwrap();
    store.create_table("orkestra-other").await.unwrap();
    Some(Suite {
        store: Arc::new(store),
        other_table: "orkestra-other".into(),
        missing_table: "orkestra-missing".into(),
        // SQLite has no item limit: the sizes DynamoDB spills around must round-trip here too.
        boundary_sizes: vec![400_000 - 1_000, 400_000 + 1_000],
        filters_expired: true,
    })
}

suite_tests!(sqlite_suite);
