//! What travels between tasks instead of the data: pointers to stored items, and the input of
//! one iteration of a map over a [`ItemsPointer`].

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where one stored item lives: return it from a task so a later task can load the item.
///
/// Serialises as `{"key","partition_key","table_name","index"?}`, the seed's metadata object;
/// the partition key is `<execution id>:<key>`.
///
/// ```
/// use orkestra::state_data::Pointer;
/// let pointer = Pointer {
///     key: "characters".into(),
///     partition_key: "exec-1:characters".into(),
///     table_name: "orkestra-state".into(),
///     index: Some(24),
/// };
/// let json = serde_json::to_value(&pointer).unwrap();
/// assert_eq!(json["partition_key"], "exec-1:characters");
/// assert_eq!(json["index"], 24);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// The key the task chose.
    pub key: String,
    /// `<execution id>:<key>`.
    pub partition_key: String,
    /// The table holding the item.
    pub table_name: String,
    /// The item's index, when it is one element of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// Where a list stored by `put_items` lives: one row per element, under its index.
///
/// A `#[compose(map)]` task whose item type is [`MapIteration<T>`] takes an `ItemsPointer<T>`
/// in a workflow and runs once per stored element (locally, and as a Distributed Map in the
/// exported ASL, which fans out over `indices`).
///
/// ```
/// use orkestra::state_data::ItemsPointer;
/// let json = serde_json::json!({
///     "key": "characters", "partition_key": "exec-1:characters",
///     "table_name": "orkestra-state", "count": 2, "indices": [0, 1]
/// });
/// let pointer: ItemsPointer<String> = serde_json::from_value(json).unwrap();
/// assert_eq!(pointer.count, 2);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ItemsPointer<T> {
    /// The key the task chose.
    pub key: String,
    /// `<execution id>:<key>`.
    pub partition_key: String,
    /// The table holding the rows.
    pub table_name: String,
    /// How many elements were stored.
    pub count: u64,
    /// The stored indices, `0..count`: what a map fans out over (an ASL `ItemsPath` needs an
    /// array in the state's input; 10,000 elements take about 49 KB of it).
    pub indices: Vec<u64>,
    #[serde(skip)]
    _item: PhantomData<fn() -> T>,
}

impl<T> ItemsPointer<T> {
    /// A pointer to `count` elements stored under `partition_key` in `table_name`.
    pub fn new(key: String, partition_key: String, table_name: String, count: u64) -> Self {
        ItemsPointer {
            key,
            partition_key,
            table_name,
            count,
            indices: (0..count).collect(),
            _item: PhantomData,
        }
    }

    /// The pointer to element `index`.
    pub fn item(&self, index: u64) -> Pointer {
        Pointer {
            key: self.key.clone(),
            partition_key: self.partition_key.clone(),
            table_name: self.table_name.clone(),
            index: Some(index),
        }
    }

    /// The input of each iteration of a map over this pointer, in order.
    pub fn iterations(&self) -> impl Iterator<Item = MapIteration<T>> + '_ {
        self.indices
            .iter()
            .enumerate()
            .map(|(position, index)| MapIteration {
                items_result_table_name: self.table_name.clone(),
                items_result_partition_key: self.partition_key.clone(),
                items_result_key: self.key.clone(),
                context_index: position as u64,
                context_value: Value::from(*index),
                _item: PhantomData,
            })
    }
}

impl<T> Clone for ItemsPointer<T> {
    fn clone(&self) -> Self {
        ItemsPointer {
            key: self.key.clone(),
            partition_key: self.partition_key.clone(),
            table_name: self.table_name.clone(),
            count: self.count,
            indices: self.indices.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> PartialEq for ItemsPointer<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.partition_key == other.partition_key
            && self.table_name == other.table_name
            && self.count == other.count
            && self.indices == other.indices
    }
}

/// The input of one iteration of a map over an [`ItemsPointer<T>`], the seed's schema:
/// `{"items_result_table_name","items_result_partition_key","items_result_key","context_index","context_value"}`.
///
/// Read the element with `ctx.state_data().get_item_for_map_iteration(&event)`.
///
/// ```
/// use orkestra::state_data::MapIteration;
/// let event: MapIteration<String> = serde_json::from_value(serde_json::json!({
///     "items_result_table_name": "orkestra-state",
///     "items_result_partition_key": "exec-1:characters",
///     "items_result_key": "characters",
///     "context_index": 1,
///     "context_value": 1
/// })).unwrap();
/// assert_eq!(event.index(), 1);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct MapIteration<T> {
    /// The table holding the list.
    pub items_result_table_name: String,
    /// `<execution id>:<key>` of the list.
    pub items_result_partition_key: String,
    /// The list's key.
    pub items_result_key: String,
    /// The iteration's position (`$$.Map.Item.Index`).
    pub context_index: u64,
    /// The element of `indices` this iteration got (`$$.Map.Item.Value`): the stored index.
    pub context_value: Value,
    #[serde(skip)]
    _item: PhantomData<fn() -> T>,
}

impl<T> MapIteration<T> {
    /// The stored index this iteration reads: `context_value` when it is a number, else
    /// `context_index`.
    pub fn index(&self) -> u64 {
        self.context_value.as_u64().unwrap_or(self.context_index)
    }

    /// The pointer to this iteration's element.
    pub fn pointer(&self) -> Pointer {
        Pointer {
            key: self.items_result_key.clone(),
            partition_key: self.items_result_partition_key.clone(),
            table_name: self.items_result_table_name.clone(),
            index: Some(self.index()),
        }
    }
}

impl<T> Clone for MapIteration<T> {
    fn clone(&self) -> Self {
        MapIteration {
            items_result_table_name: self.items_result_table_name.clone(),
            items_result_partition_key: self.items_result_partition_key.clone(),
            items_result_key: self.items_result_key.clone(),
            context_index: self.context_index,
            context_value: self.context_value.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> PartialEq for MapIteration<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items_result_table_name == other.items_result_table_name
            && self.items_result_partition_key == other.items_result_partition_key
            && self.items_result_key == other.items_result_key
            && self.context_index == other.context_index
            && self.context_value == other.context_value
    }
}
