//! A job as written: JSON whose objects keep their key order (so tasks come out in the order
//! the job lists sections, stores, ...), and the job schemas that say which attributes chunk.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

/// A JSON value whose objects keep their keys in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum JobValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    Text(String),
    /// A list.
    List(Vec<JobValue>),
    /// An object, keys in written order.
    Object(Vec<(String, JobValue)>),
}

impl JobValue {
    /// Parses JSON text, keeping key order.
    ///
    /// ```
    /// use orkestra::scheduler::job::JobValue;
    /// let v = JobValue::parse(r#"{"b":1,"a":2}"#).unwrap();
    /// let JobValue::Object(fields) = v else { panic!() };
    /// assert_eq!(fields[0].0, "b");
    /// ```
    pub fn parse(text: &str) -> Result<JobValue, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value as plain JSON (object keys sorted).
    pub fn to_json(&self) -> Value {
        match self {
            JobValue::Null => Value::Null,
            JobValue::Bool(b) => Value::Bool(*b),
            JobValue::Number(n) => Value::Number(n.clone()),
            JobValue::Text(s) => Value::String(s.clone()),
            JobValue::List(items) => Value::Array(items.iter().map(JobValue::to_json).collect()),
            JobValue::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            JobValue::Null => "null",
            JobValue::Bool(_) => "a boolean",
            JobValue::Number(_) => "a number",
            JobValue::Text(_) => "a string",
            JobValue::List(_) => "a list",
            JobValue::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for JobValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JobValue, D::Error> {
        deserializer.deserialize_any(JobValueVisitor)
    }
}

struct JobValueVisitor;

impl<'de> Visitor<'de> for JobValueVisitor {
    type Value = JobValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<JobValue, E> {
        Ok(JobValue::Null)
    }
    fn visit_none<E>(self) -> Result<JobValue, E> {
        Ok(JobValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<JobValue, E> {
        Ok(JobValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JobValue, E> {
        Ok(JobValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JobValue, E> {
        Ok(JobValue::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<JobValue, E> {
        Number::from_f64(v)
            .map(JobValue::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<JobValue, E> {
        Ok(JobValue::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<JobValue, E> {
        Ok(JobValue::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JobValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JobValue::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JobValue, A::Error> {
        let mut fields: Vec<(String, JobValue)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, JobValue>()? {
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "key `{key}` is given twice"
                )));
            }
            fields.push((key, value));
        }
        Ok(JobValue::Object(fields))
    }
}

/// One job schema: the attributes that chunk, outermost first (singular, as in sosw:
/// `section` chunks the job's `sections`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSchema {
    /// E.g. `["section", "store", "product"]`.
    pub chunkable_attrs: Vec<String>,
}

/// The job schemas by name; a job picks one with `job_schema_name`, else `default`.
pub type JobSchemaVariants = BTreeMap<String, JobSchema>;
