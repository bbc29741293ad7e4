//! Which process runs an execution: an exclusive OS file lock per execution id, in a
//! `<store>.locks/` directory beside the store. The lock goes when its holder ends, however it
//! ends (a SIGKILLed process holds none), so a crashed execution can be resumed at once while
//! a live one cannot be run twice.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

use super::store::sqlite::fnv;

/// The lock on one execution, held while this process runs it; dropping it releases it.
///
/// ```
/// use orkestra_core::durable::ExecutionLock;
/// let dir = std::env::temp_dir().join(format!("orkestra-owner-doc-{}", std::process::id()));
/// let store = dir.join("orkestra.db");
/// let held = ExecutionLock::try_acquire(&store, "order-7").unwrap().expect("free");
/// assert!(ExecutionLock::try_acquire(&store, "order-7").unwrap().is_none(), "owned");
/// drop(held);
/// assert!(ExecutionLock::try_acquire(&store, "order-7").unwrap().is_some(), "free again");
/// # std::fs::remove_dir_all(dir).unwrap();
/// ```
#[derive(Debug)]
pub struct ExecutionLock {
    _file: File,
    path: PathBuf,
}

impl ExecutionLock {
    /// Takes the lock on `execution_id` of the store at `store_path`; `None` when another
    /// holder (another process, or another handle in this one) has it.
    pub fn try_acquire(store_path: &Path, execution_id: &str) -> io::Result<Option<Self>> {
        let path = Self::path(store_path, execution_id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        Ok(file
            .try_lock_exclusive()?
            .then_some(ExecutionLock { _file: file, path }))
    }

    /// The lock file of `execution_id`: named by a hash of the id, so any id gives a valid
    /// file name.
    pub fn path(store_path: &Path, execution_id: &str) -> PathBuf {
        let mut dir = store_path.as_os_str().to_owned();
        dir.push(".locks");
        PathBuf::from(dir).join(format!("{:016x}.lock", fnv::hash(execution_id.as_bytes())))
    }

    /// Where the lock file is.
    pub fn file(&self) -> &Path {
        &self.path
    }
}
