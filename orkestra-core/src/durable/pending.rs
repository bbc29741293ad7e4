//! [`Pending`]: the recorded operations a replay has not reached yet.
//!
//! Each record is taken out when its operation replays, and the descendants of a finished
//! context whose body does not run again are dropped with it, so an execution stops replaying
//! once no recorded operation is left ahead of it. Records sit in an arena found through a
//! 128-bit key of their id (ids are themselves 128-bit hashes); no id is copied, which kept
//! loading 200,000 records from costing more than reading them.

use super::store::OperationRecord;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A 128-bit key of an operation id (two FNV-1a lanes).
fn key(id: &str) -> u128 {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for &byte in id.as_bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(byte).rotate_left(3)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (u128::from(a) << 64) | u128::from(b)
}

/// Hashes a key that is already a hash: its low 64 bits.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<KeyHasher>>;

/// The recorded operations a replay has not reached yet.
pub(crate) struct Pending {
    /// Records by slot; `None` once replayed or forgotten.
    slots: Vec<Option<OperationRecord>>,
    /// Each slot's id key and parent's id key (kept after the record is gone: the tree
    /// still runs through it).
    keys: Vec<u128>,
    parents: Vec<Option<u128>>,
    /// Id key → slot.
    by_key: KeyMap<usize>,
    /// How many slots still hold a record.
    live: usize,
    /// Parent id key → child slots, built on first use.
    children: Option<KeyMap<Vec<usize>>>,
}

impl Pending {
    /// The records of an execution (the newest version of each operation).
    pub(crate) fn new(records: Vec<OperationRecord>) -> Self {
        let mut by_key = KeyMap::with_capacity_and_hasher(records.len(), Default::default());
        let mut keys = Vec::with_capacity(records.len());
        let mut parents = Vec::with_capacity(records.len());
        let mut slots = Vec::with_capacity(records.len());
        for record in records {
            let k = key(&record.id);
            if let Some(first) = by_key.insert(k, slots.len()) {
                // The store gives one record per id, so only a 128-bit key collision lands
                // here (as unlikely as two operation ids colliding): keep the first.
                by_key.insert(k, first);
                continue;
            }
            keys.push(k);
            parents.push(record.parent_id.as_deref().map(key));
            slots.push(Some(record));
        }
        Pending {
            live: slots.len(),
            slots,
            keys,
            parents,
            by_key,
            children: None,
        }
    }

    /// Whether no recorded operation is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The record of operation `id`, if it has not been reached yet.
    pub(crate) fn get(&self, id: &str) -> Option<&OperationRecord> {
        if self.live == 0 {
            return None;
        }
        let slot = *self.by_key.get(&key(id))?;
        self.slots[slot].as_ref().filter(|r| r.id == id)
    }

    /// Takes the record of operation `id` out.
    pub(crate) fn remove(&mut self, id: &str) -> Option<OperationRecord> {
        let slot = *self.by_key.get(&key(id))?;
        if self.slots[slot].as_ref().is_some_and(|r| r.id == id) {
            self.live -= 1;
            return self.slots[slot].take();
        }
        None
    }

    /// Drops every recorded descendant of operation `id`.
    pub(crate) fn forget_descendants(&mut self, id: &str) {
        if self.live == 0 {
            return;
        }
        let parents = &self.parents;
        let children = self.children.get_or_insert_with(|| {
            let mut index: KeyMap<Vec<usize>> = KeyMap::default();
            for (slot, parent) in parents.iter().enumerate() {
                if let Some(parent) = parent {
                    index.entry(*parent).or_default().push(slot);
                }
            }
            index
        });
        let mut stack = vec![key(id)];
        while let Some(parent) = stack.pop() {
            for slot in children.remove(&parent).unwrap_or_default() {
                if self.slots[slot].take().is_some() {
                    self.live -= 1;
                }
                // Replayed children are gone already; their own children may not be.
                stack.push(self.keys[slot]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::store::{OperationStatus, OperationType};

    fn rec(id: &str, parent: Option<&str>) -> OperationRecord {
        OperationRecord {
            id: id.into(),
            parent_id: parent.map(str::to_string),
            op_type: OperationType::Context,
            sub_type: None,
            name: None,
            status: OperationStatus::Succeeded,
            result: None,
            error: None,
            attempt: 0,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        }
    }

    #[test]
    fn descendants_go_even_under_children_already_replayed() {
        let mut p = Pending::new(vec![
            rec("map", None),
            rec("item", Some("map")),
            rec("step", Some("item")),
            rec("other", None),
        ]);
        assert!(p.remove("map").is_some());
        assert!(p.remove("item").is_some(), "the item replays first");
        assert!(p.get("step").is_some());
        p.forget_descendants("map");
        assert!(p.get("step").is_none(), "the item's step goes with the map");
        assert!(p.get("other").is_some());
        assert!(!p.is_empty());
        assert!(p.remove("other").is_some());
        assert!(p.is_empty());
        assert!(p.remove("other").is_none(), "an operation replays once");
        assert!(p.get("missing").is_none());
    }

    /// The obvious model: a map of records; forgetting walks parent links over all records
    /// ever loaded.
    struct Model {
        all: Vec<(String, Option<String>)>,
        left: std::collections::BTreeSet<String>,
    }

    impl Model {
        fn forget(&mut self, id: &str) {
            let mut stack = vec![id.to_string()];
            while let Some(parent) = stack.pop() {
                for (child, p) in &self.all {
                    if p.as_deref() == Some(parent.as_str()) {
                        self.left.remove(child);
                        stack.push(child.clone());
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_a_model_of_removals_and_forgets(
            parents in proptest::collection::vec(proptest::option::of(0usize..40), 1..40),
            ops in proptest::collection::vec((proptest::bool::ANY, 0usize..45), 0..60),
        ) {
            // Record i's parent is an earlier record (a tree), or none.
            let all: Vec<(String, Option<String>)> = parents
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("op{i}"), p.filter(|&p| p < i).map(|p| format!("op{p}"))))
                .collect();
            let mut pending = Pending::new(all.iter().map(|(id, p)| rec(id, p.as_deref())).collect());
            let mut model = Model { left: all.iter().map(|(id, _)| id.clone()).collect(), all };
            for (remove, n) in ops {
                let id = format!("op{n}");
                if remove {
                    let got = pending.remove(&id).map(|r| r.id);
                    let expected = model.left.take(&id);
                    proptest::prop_assert_eq!(got, expected);
                } else {
                    pending.forget_descendants(&id);
                    model.forget(&id);
                }
                for (id, _) in &model.all {
                    proptest::prop_assert_eq!(pending.get(id).is_some(), model.left.contains(id));
                }
                proptest::prop_assert_eq!(pending.is_empty(), model.left.is_empty());
            }
        }
    }
}
