//! Chunking (sosw's Scheduler): one business job becomes many small task payloads.
//!
//! A job names its `labourer` and carries business attributes. The job schema's
//! `chunkable_attrs` (e.g. section → store → product) name the attributes that chunk: the job
//! lists `sections` as a list of values or as a map from value to `null` or to a nested object
//! listing the next level (`stores`, ...). Control keys steer the chunking:
//!
//! - `isolate_<attr>s: true`: one task per value at that level;
//! - `max_<attr>s_per_batch: N`: the level's plain values go in chunks of at most N;
//! - a value with a nested object that lists deeper values always gets tasks of its own;
//! - `period` (see [`dates`](super::dates)) or `date_list` gives every task a `date_list`;
//!   `isolate_days: true` gives one task per date;
//! - `rerun: true` queues tasks again even when they were completed before.
//!
//! Control keys, `labourer`, `period`, `job_schema_name` and `rerun` are not copied into the
//! payloads; every other top-level key is, unchanged.

use serde_json::{Map, Value};
use time::Date;

use super::dates::{parse_date, period_dates};
use super::job::{JobSchema, JobSchemaVariants, JobValue};

/// A job that cannot be chunked: what is wrong, and at which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job field `{field}`: {message}")]
pub struct JobError {
    /// The field's path, e.g. `sections.weddings.max_products_per_batch`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, JobError> {
    Err(JobError {
        field: field.into(),
        message: message.into(),
    })
}

/// A job cut into task payloads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkedJob {
    /// The labourer (a registered task's name) every payload is for.
    pub labourer: String,
    /// Whether tasks completed before are queued again.
    pub rerun: bool,
    /// The payloads, in order: dates outermost, then the job's order of values.
    pub payloads: Vec<Value>,
}

/// Top-level keys that steer the job and are not copied into payloads.
const JOB_KEYS: &[&str] = &[
    "labourer",
    "period",
    "date_list",
    "isolate_days",
    "job_schema_name",
    "rerun",
];

/// Chunks `job` (JSON text) with the schema it names among `variants`, dates relative to
/// `today` (UTC).
///
/// ```
/// use orkestra::scheduler::chunk::chunk_job;
/// use orkestra::scheduler::dates::parse_date;
/// use orkestra::scheduler::job::{JobSchema, JobSchemaVariants};
///
/// let mut variants = JobSchemaVariants::new();
/// variants.insert("default".into(), JobSchema { chunkable_attrs: vec!["store".into()] });
/// let job = r#"{"labourer":"w","period":"yesterday","isolate_stores":true,"stores":["a","b"]}"#;
/// let chunked = chunk_job(job, &variants, parse_date("2024-06-12").unwrap()).unwrap();
/// assert_eq!(chunked.payloads.len(), 2);
/// assert_eq!(chunked.payloads[1], serde_json::json!({"stores":["b"],"date_list":["2024-06-11"]}));
/// ```
pub fn chunk_job(
    job: &str,
    variants: &JobSchemaVariants,
    today: Date,
) -> Result<ChunkedJob, JobError> {
    let parsed = JobValue::parse(job).map_err(|e| JobError {
        field: "(job)".into(),
        message: format!("not valid JSON: {e}"),
    })?;
    chunk_job_value(&parsed, variants, today)
}

/// [`chunk_job`] on a parsed job.
pub fn chunk_job_value(
    job: &JobValue,
    variants: &JobSchemaVariants,
    today: Date,
) -> Result<ChunkedJob, JobError> {
    let JobValue::Object(fields) = job else {
        return err(
            "(job)",
            format!("a job is a JSON object, not {}", job.kind()),
        );
    };
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);

    let labourer = match get("labourer") {
        Some(JobValue::Text(s)) if !s.is_empty() => s.clone(),
        Some(other) => {
            return err(
                "labourer",
                format!("must be a task name, not {}", other.kind()),
            )
        }
        None => {
            return err(
                "labourer",
                "is missing: name the registered task that runs the tasks",
            )
        }
    };
    let schema_name = match get("job_schema_name") {
        None => "default".to_string(),
        Some(JobValue::Text(s)) => s.clone(),
        Some(other) => {
            return err(
                "job_schema_name",
                format!("must be a string, not {}", other.kind()),
            )
        }
    };
    let empty = JobSchema::default();
    let schema = match variants.get(&schema_name) {
        Some(schema) => schema,
        // Without a configured default, nothing chunks but the dates.
        None if schema_name == "default" => &empty,
        None => {
            let known: Vec<&str> = variants.keys().map(String::as_str).collect();
            return err(
                "job_schema_name",
                format!(
                    "no job schema `{schema_name}`; configured: {}",
                    known.join(", ")
                ),
            );
        }
    };
    let rerun = flag(get("rerun"), "rerun")?;
    let isolate_days = flag(get("isolate_days"), "isolate_days")?;
    let dates = job_dates(get("period"), get("date_list"), today)?;
    if isolate_days && dates.is_none() {
        return err(
            "isolate_days",
            "needs a `period` or a `date_list` to isolate",
        );
    }

    let chunker = Chunker {
        attrs: &schema.chunkable_attrs,
        schema: &schema_name,
    };
    // Business attributes: every top-level key that is not a job key, chunkable or control.
    let mut skeleton = Map::new();
    for (key, value) in fields {
        if JOB_KEYS.contains(&key.as_str()) || chunker.level_of(key).is_some() {
            continue;
        }
        if chunker.control(key, key)?.is_some() {
            continue;
        }
        skeleton.insert(key.clone(), value.to_json());
    }
    let chunks = chunker.chunk(fields, "", 0, skeleton)?;

    let payloads = match dates {
        None => chunks,
        Some(dates) if isolate_days => dates
            .iter()
            .flat_map(|date| {
                chunks
                    .iter()
                    .map(move |c| with_dates(c, std::slice::from_ref(date)))
            })
            .collect(),
        Some(dates) => chunks.iter().map(|c| with_dates(c, &dates)).collect(),
    };
    Ok(ChunkedJob {
        labourer,
        rerun,
        payloads,
    })
}

fn with_dates(chunk: &Value, dates: &[String]) -> Value {
    let mut payload = chunk.clone();
    payload["date_list"] = Value::from(dates.to_vec());
    payload
}

fn flag(value: Option<&JobValue>, field: &str) -> Result<bool, JobError> {
    match value {
        None => Ok(false),
        Some(JobValue::Bool(b)) => Ok(*b),
        Some(other) => err(
            field,
            format!("must be true or false, not {}", other.kind()),
        ),
    }
}

fn job_dates(
    period: Option<&JobValue>,
    date_list: Option<&JobValue>,
    today: Date,
) -> Result<Option<Vec<String>>, JobError> {
    match (period, date_list) {
        (Some(_), Some(_)) => err("date_list", "give either `period` or `date_list`, not both"),
        (Some(JobValue::Text(pattern)), None) => {
            period_dates(pattern, today)
                .map(Some)
                .map_err(|e| JobError {
                    field: "period".into(),
                    message: e.to_string(),
                })
        }
        (Some(other), None) => err(
            "period",
            format!("must be a date pattern string, not {}", other.kind()),
        ),
        (None, Some(JobValue::List(items))) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                JobValue::Text(s) => parse_date(s).map(|_| s.clone()).map_err(|m| JobError {
                    field: format!("date_list[{i}]"),
                    message: m,
                }),
                other => err(
                    format!("date_list[{i}]"),
                    format!("must be a YYYY-MM-DD string, not {}", other.kind()),
                ),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        (None, Some(other)) => err(
            "date_list",
            format!("must be a non-empty list of dates, not {}", other.kind()),
        ),
        (None, None) => Ok(None),
    }
}

/// A control key's meaning.
enum Control {
    Isolate(bool),
    MaxPerBatch(usize),
}

struct Chunker<'a> {
    attrs: &'a [String],
    schema: &'a str,
}

/// One value of a level: the scalar, and its nested object if it has one.
struct Entry<'j> {
    value: Value,
    nested: Option<(&'j [(String, JobValue)], String)>,
}

impl Chunker<'_> {
    /// The level whose plural key (`<attr>s`) is `key`.
    fn level_of(&self, key: &str) -> Option<usize> {
        let singular = key.strip_suffix('s')?;
        self.attrs.iter().position(|a| a == singular)
    }

    /// The level a control key (`isolate_<attr>s`, `max_<attr>s_per_batch`) applies to;
    /// `None` if `key` is not shaped like one, an error if it names no chunkable attribute.
    fn control(&self, key: &str, path: &str) -> Result<Option<usize>, JobError> {
        let target = key.strip_prefix("isolate_").or_else(|| {
            key.strip_prefix("max_")
                .and_then(|k| k.strip_suffix("_per_batch"))
        });
        let Some(target) = target else {
            return Ok(None);
        };
        match self.level_of(target) {
            Some(level) => Ok(Some(level)),
            None => err(
                path,
                format!(
                    "`{target}` names no chunkable attribute of job schema `{}` (its attributes: {}; a list is named by the attribute plus `s`)",
                    self.schema,
                    if self.attrs.is_empty() { "none".to_string() } else { self.attrs.join(", ") }
                ),
            ),
        }
    }

    fn control_value(&self, key: &str, value: &JobValue, path: &str) -> Result<Control, JobError> {
        if key.starts_with("isolate_") {
            match value {
                JobValue::Bool(b) => Ok(Control::Isolate(*b)),
                other => err(path, format!("must be true or false, not {}", other.kind())),
            }
        } else {
            match value.to_json().as_u64() {
                Some(n) if n >= 1 => Ok(Control::MaxPerBatch(n as usize)),
                _ => err(
                    path,
                    format!(
                        "must be a whole number of at least 1, not {}",
                        value.to_json()
                    ),
                ),
            }
        }
    }

    /// Chunks the object `fields` (at `path`), whose values start at level `min_level` or
    /// deeper, each chunk extending `skeleton`.
    fn chunk(
        &self,
        fields: &[(String, JobValue)],
        path: &str,
        min_level: usize,
        skeleton: Map<String, Value>,
    ) -> Result<Vec<Value>, JobError> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        };
        let mut level: Option<(usize, &str, &JobValue)> = None;
        let mut isolate = false;
        let mut max_batch: Option<usize> = None;
        for (key, value) in fields {
            if let Some(l) = self.level_of(key) {
                if l < min_level {
                    return err(
                        join(key),
                        format!(
                            "`{key}` cannot be nested under `{}s`",
                            self.attrs[min_level - 1]
                        ),
                    );
                }
                if let Some((_, first, _)) = level {
                    return err(join(key), format!("`{first}` and `{key}` are at one level; nest `{}` under each value of the outer one", if self.level_of(first) < Some(l) { key.as_str() } else { first }));
                }
                level = Some((l, key, value));
            }
        }
        for (key, value) in fields {
            if self.level_of(key).is_some() {
                continue;
            }
            if path.is_empty() && JOB_KEYS.contains(&key.as_str()) {
                continue;
            }
            match self.control(key, &join(key))? {
                Some(target) => {
                    if level.map(|(l, _, _)| l) != Some(target) {
                        return err(
                            join(key),
                            format!(
                                "there is no `{}s` list beside it to apply to",
                                self.attrs[target]
                            ),
                        );
                    }
                    match self.control_value(key, value, &join(key))? {
                        Control::Isolate(b) => isolate = b,
                        Control::MaxPerBatch(n) => max_batch = Some(n),
                    }
                }
                // Business attributes belong at the top of the job.
                None if !path.is_empty() => {
                    return err(join(key), "is neither a deeper chunkable attribute nor a control key (business attributes go at the top of the job)");
                }
                None => {}
            }
        }
        let Some((l, key, value)) = level else {
            return Ok(vec![Value::Object(skeleton)]);
        };
        let entries = entries(value, &join(key))?;
        let mut out = Vec::new();
        let mut plain: Vec<Value> = Vec::new();
        for entry in entries {
            let has_deeper = entry
                .nested
                .as_ref()
                .is_some_and(|(f, _)| f.iter().any(|(k, _)| self.level_of(k).is_some()));
            if isolate || has_deeper {
                let mut skel = skeleton.clone();
                skel.insert(key.to_string(), Value::from(vec![entry.value]));
                match entry.nested {
                    Some((fields, path)) => out.extend(self.chunk(fields, &path, l + 1, skel)?),
                    None => out.push(Value::Object(skel)),
                }
            } else {
                if let Some((fields, path)) = entry.nested {
                    // Only control keys without values: still validated.
                    self.chunk(fields, &path, l + 1, Map::new())?;
                }
                plain.push(entry.value);
            }
        }
        if !plain.is_empty() {
            let size = max_batch.unwrap_or(plain.len());
            for batch in plain.chunks(size) {
                let mut skel = skeleton.clone();
                skel.insert(key.to_string(), Value::from(batch.to_vec()));
                out.push(Value::Object(skel));
            }
        }
        Ok(out)
    }
}

/// A level's values: a list of strings / numbers, or a map from value to `null` or to a
/// nested object.
fn entries<'j>(value: &'j JobValue, path: &str) -> Result<Vec<Entry<'j>>, JobError> {
    let mut out: Vec<Entry> = Vec::new();
    match value {
        JobValue::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let value = match item {
                    JobValue::Text(s) => Value::String(s.clone()),
                    JobValue::Number(n) => Value::Number(n.clone()),
                    other => {
                        return err(
                            format!("{path}[{i}]"),
                            format!("values are strings or numbers, not {}", other.kind()),
                        )
                    }
                };
                if out.iter().any(|e| e.value == value) {
                    return err(format!("{path}[{i}]"), format!("{value} is listed twice"));
                }
                out.push(Entry {
                    value,
                    nested: None,
                });
            }
        }
        JobValue::Object(fields) => {
            for (key, nested) in fields {
                let nested = match nested {
                    JobValue::Null => None,
                    JobValue::Object(inner) => Some((inner.as_slice(), format!("{path}.{key}"))),
                    other => {
                        return err(
                            format!("{path}.{key}"),
                            format!("a value's entry is null or an object, not {}", other.kind()),
                        )
                    }
                };
                out.push(Entry {
                    value: Value::String(key.clone()),
                    nested,
                });
            }
        }
        other => {
            return err(
                path,
                format!(
                    "must be a list of values or an object whose values are null, not {}",
                    other.kind()
                ),
            )
        }
    }
    if out.is_empty() {
        return err(path, "lists no values");
    }
    Ok(out)
}
