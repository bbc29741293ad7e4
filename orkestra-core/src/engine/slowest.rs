//! The few slowest items of a map, kept while it runs (a handful of entries, not one time per
//! item: the history stays eight bytes per item).

use std::time::Duration;

/// How many of a map's slowest items the history keeps.
pub(crate) const KEPT: usize = 3;

/// The slowest items seen so far, slowest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slowest {
    items: Vec<(u32, Duration)>,
}

impl Slowest {
    /// Notes that item `index` took `took`.
    pub(crate) fn note(&mut self, index: u32, took: Duration) {
        if self.items.len() == KEPT && self.items.last().is_some_and(|&(_, d)| d >= took) {
            return;
        }
        let at = self.items.partition_point(|&(_, d)| d >= took);
        self.items.insert(at, (index, took));
        self.items.truncate(KEPT);
    }

    /// `{"slowest":[{"index":i,"micros":n},..]}`, the map event's details; `None` for a map
    /// that ran no item.
    pub(crate) fn details(&self) -> Option<String> {
        if self.items.is_empty() {
            return None;
        }
        let items: Vec<serde_json::Value> = self
            .items
            .iter()
            .map(|&(index, took)| {
                serde_json::json!({"index": index, "micros": took.as_micros() as u64})
            })
            .collect();
        Some(serde_json::json!({ "slowest": items }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_slowest_items_slowest_first() {
        let mut slowest = Slowest::default();
        for (index, millis) in [(0, 5), (1, 50), (2, 1), (3, 20), (4, 50), (5, 7)] {
            slowest.note(index, Duration::from_millis(millis));
        }
        assert_eq!(
            slowest.details().unwrap(),
            r#"{"slowest":[{"index":1,"micros":50000},{"index":4,"micros":50000},{"index":3,"micros":20000}]}"#
        );
        assert_eq!(Slowest::default().details(), None);
    }
}
