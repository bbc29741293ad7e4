//! The project's SQLite file (`.orkestra/orkestra.db`): one connection policy and per-component
//! schema versions shared by every component that keeps tables in it (durable store, state
//! data, scheduler).
//!
//! Each component migrates only its own tables and records its version in the
//! `orkestra_components` table under its own name, so the components change independently.

use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=NORMAL`: survives a killed process (WAL); the default.
    #[default]
    Normal,
    /// `synchronous=FULL`: also survives power loss.
    Full,
}

impl Synchronous {
    /// The pragma's spelling, e.g. `NORMAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How long a connection waits for another writer's lock before SQLite reports `busy`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The default location of the project's file: `$ORKESTRA_DB`, else `.orkestra/orkestra.db`
/// under the working directory.
///
/// ```
/// let path = orkestra::sqlite_file::default_path();
/// assert!(path.ends_with("orkestra.db") || std::env::var_os("ORKESTRA_DB").is_some());
/// ```
pub fn default_path() -> PathBuf {
    match std::env::var_os("ORKESTRA_DB") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(".orkestra").join("orkestra.db"),
    }
}

/// Opens a connection to `path` with the file's policy: its folder created if missing, WAL
/// journal, the given durability, [`BUSY_TIMEOUT`], a 64 MiB page cache.
///
/// ```
/// use orkestra::sqlite_file::{open_connection, Synchronous};
/// let dir = std::env::temp_dir().join(format!("orkestra-sqlite-doc-{}", std::process::id()));
/// let conn = open_connection(&dir.join("doc.db"), Synchronous::Normal).unwrap();
/// let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
/// assert_eq!(mode, "wal");
/// # drop(conn); let _ = std::fs::remove_dir_all(dir);
/// ```
pub fn open_connection(path: &Path, sync: Synchronous) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("cannot create {}: {e}", dir.display())),
            )
        })?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let settings = format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA cache_size=-65536;",
        sync.as_str()
    );
    // Two processes opening a new file at once both try to switch it to WAL; SQLite answers
    // one of them SQLITE_BUSY at once (a lock upgrade the busy handler does not wait for), so
    // that switch is retried here, within the same time a busy write would wait.
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match conn.execute_batch(&settings) {
            Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            result => break result?,
        }
    }
    Ok(conn)
}

/// Whether `e` is SQLite's "the file is busy / locked" (worth waiting for).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Why a component's tables could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The file was written by a newer build of the component.
    #[error("{component} tables in {path} are at schema version {found}, newer than this build ({supported})")]
    Newer {
        /// The component, e.g. `state_data`.
        component: String,
        /// The file.
        path: String,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// SQLite refused a migration step.
    #[error("migrating {component} tables in {path} to version {version}: {source}")]
    Sql {
        /// The component, e.g. `state_data`.
        component: String,
        /// The file.
        path: String,
        /// The version the failed step leads to.
        version: i64,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// The schema version of `component` recorded in the file, `0` when it has none yet.
pub fn component_version(conn: &Connection, component: &str) -> rusqlite::Result<i64> {
    ensure_components_table(conn)?;
    Ok(conn
        .query_row(
            "SELECT version FROM orkestra_components WHERE name = ?1",
            [component],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Brings `component`'s tables to version `steps.len()`: step `i` (SQL, may hold several
/// statements) leads from version `i` to `i + 1` and runs in one transaction with the version
/// update, so a crash mid-migration leaves the previous version intact.
///
/// ```
/// use orkestra::sqlite_file::{component_version, migrate_component, open_connection, Synchronous};
/// let dir = std::env::temp_dir().join(format!("orkestra-migrate-doc-{}", std::process::id()));
/// let path = dir.join("doc.db");
/// let mut conn = open_connection(&path, Synchronous::Normal).unwrap();
/// let steps = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
///              "ALTER TABLE notes ADD COLUMN author TEXT;"];
/// migrate_component(&mut conn, &path, "notes", &steps).unwrap();
/// assert_eq!(component_version(&conn, "notes").unwrap(), 2);
/// migrate_component(&mut conn, &path, "notes", &steps).unwrap(); // already current: no-op
/// # drop(conn); let _ = std::fs::remove_dir_all(dir);
/// ```
pub fn migrate_component(
    conn: &mut Connection,
    path: &Path,
    component: &str,
    steps: &[&str],
) -> Result<(), MigrationError> {
    let sql_err = |version: i64, source: rusqlite::Error| MigrationError::Sql {
        component: component.to_string(),
        path: path.display().to_string(),
        version,
        source,
    };
    let found = component_version(conn, component).map_err(|e| sql_err(0, e))?;
    let supported = steps.len() as i64;
    if found > supported {
        return Err(MigrationError::Newer {
            component: component.to_string(),
            path: path.display().to_string(),
            found,
            supported,
        });
    }
    for (index, step) in steps.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_err(version, e))?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        if component_version(&tx, component).map_err(|e| sql_err(version, e))? >= version {
            continue;
        }
        tx.execute_batch(step).map_err(|e| sql_err(version, e))?;
        tx.execute(
            "INSERT INTO orkestra_components (name, version) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            rusqlite::params![component, version],
        )
        .map_err(|e| sql_err(version, e))?;
        tx.commit().map_err(|e| sql_err(version, e))?;
    }
    Ok(())
}

fn ensure_components_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS orkestra_components (
             name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "orkestra-sqlite-file-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("t.db")
    }

    #[test]
    fn many_connections_opening_a_new_file_at_once_all_succeed() {
        for round in 0..20 {
            let path = temp_db(&format!("race-{round}"));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        let mut conn = open_connection(&path, Synchronous::Normal)?;
                        migrate_component(&mut conn, &path, "race", &["CREATE TABLE t (x)"])
                            .map_err(|e| match e {
                                MigrationError::Sql { source, .. } => source,
                                other => panic!("{other}"),
                            })
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn components_migrate_independently() {
        let path = temp_db("independent");
        let mut conn = open_connection(&path, Synchronous::Normal).unwrap();
        migrate_component(&mut conn, &path, "a", &["CREATE TABLE a1 (x);"]).unwrap();
        migrate_component(
            &mut conn,
            &path,
            "b",
            &["CREATE TABLE b1 (x);", "CREATE TABLE b2 (x);"],
        )
        .unwrap();
        assert_eq!(component_version(&conn, "a").unwrap(), 1);
        assert_eq!(component_version(&conn, "b").unwrap(), 2);
        migrate_component(
            &mut conn,
            &path,
            "a",
            &["CREATE TABLE a1 (x);", "CREATE TABLE a2 (x);"],
        )
        .unwrap();
        assert_eq!(component_version(&conn, "a").unwrap(), 2);
        assert_eq!(component_version(&conn, "b").unwrap(), 2);
    }

    #[test]
    fn a_newer_file_is_refused_with_names() {
        let path = temp_db("newer");
        let mut conn = open_connection(&path, Synchronous::Normal).unwrap();
        migrate_component(
            &mut conn,
            &path,
            "c",
            &["CREATE TABLE c1 (x);", "CREATE TABLE c2 (x);"],
        )
        .unwrap();
        let err = migrate_component(&mut conn, &path, "c", &["CREATE TABLE c1 (x);"]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("c tables") && msg.contains("version 2") && msg.contains("(1)"),
            "{msg}"
        );
    }

    #[test]
    fn a_failed_step_keeps_the_previous_version() {
        let path = temp_db("failed");
        let mut conn = open_connection(&path, Synchronous::Normal).unwrap();
        let err = migrate_component(
            &mut conn,
            &path,
            "d",
            &["CREATE TABLE d1 (x);", "CREATE TABLE d1 (x);"],
        )
        .unwrap_err();
        assert!(err.to_string().contains("to version 2"), "{err}");
        assert_eq!(component_version(&conn, "d").unwrap(), 1);
    }
}
