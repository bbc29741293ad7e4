//! Chunking of scheduler jobs: the issue's worked example, date isolation, errors naming the
//! field, and a property test of the chunking rules.

use std::collections::{BTreeMap, BTreeSet};

use orkestra::scheduler::chunk::{chunk_job, ChunkedJob};
use orkestra::scheduler::dates::parse_date;
use orkestra::scheduler::job::{JobSchema, JobSchemaVariants};
use proptest::prelude::*;
use serde_json::{json, Value};

fn variants(attrs: &[&str]) -> JobSchemaVariants {
    let mut v = JobSchemaVariants::new();
    v.insert(
        "default".into(),
        JobSchema {
            chunkable_attrs: attrs.iter().map(|a| a.to_string()).collect(),
        },
    );
    v
}

fn chunk(job: &Value, attrs: &[&str], today: &str) -> ChunkedJob {
    chunk_job(
        &job.to_string(),
        &variants(attrs),
        parse_date(today).unwrap(),
    )
    .unwrap()
}

const WORKED_EXAMPLE: &str = r#"{"labourer":"report_worker","period":"last_2_days","isolate_days":true,"isolate_sections":true,
"report_type":"daily","sections":{"funerals":{"isolate_stores":true,"stores":{"flowers":null,"caskets":null}},
"weddings":{"stores":{"music":{"max_products_per_batch":2,"products":["march","chorus","waltz"]}}},"gifts":null}}"#;

#[test]
fn the_worked_example_gives_exactly_ten_payloads() {
    let chunked = chunk_job(
        WORKED_EXAMPLE,
        &variants(&["section", "store", "product"]),
        parse_date("2024-06-12").unwrap(),
    )
    .unwrap();
    assert_eq!(chunked.labourer, "report_worker");
    assert!(!chunked.rerun);
    let mut expected = Vec::new();
    for date in ["2024-06-10", "2024-06-11"] {
        for rest in [
            json!({"sections": ["funerals"], "stores": ["flowers"]}),
            json!({"sections": ["funerals"], "stores": ["caskets"]}),
            json!({"sections": ["weddings"], "stores": ["music"], "products": ["march", "chorus"]}),
            json!({"sections": ["weddings"], "stores": ["music"], "products": ["waltz"]}),
            json!({"sections": ["gifts"]}),
        ] {
            let mut payload = rest;
            payload["report_type"] = json!("daily");
            payload["date_list"] = json!([date]);
            expected.push(payload);
        }
    }
    assert_eq!(chunked.payloads, expected);
}

#[test]
fn without_isolate_days_one_task_carries_every_date() {
    let job = json!({"labourer": "w", "period": "last_3_days", "stores": ["a", "b"]});
    let chunked = chunk(&job, &["store"], "2024-06-12");
    assert_eq!(
        chunked.payloads,
        [json!({"stores": ["a", "b"], "date_list": ["2024-06-09", "2024-06-10", "2024-06-11"]})]
    );
}

#[test]
fn dates_chunk_even_when_nothing_else_does() {
    // sosw chunks dates only when the first attribute chunks; here they always do.
    let job = json!({"labourer": "w", "period": "last_week", "isolate_days": true, "kind": 1});
    let chunked = chunk(&job, &["section"], "2024-06-12");
    let dates: Vec<&Value> = chunked
        .payloads
        .iter()
        .map(|p| &p["date_list"][0])
        .collect();
    assert_eq!(chunked.payloads.len(), 7);
    assert_eq!(dates[0], "2024-06-02");
    assert_eq!(dates[6], "2024-06-08");
    assert!(chunked.payloads.iter().all(|p| p["kind"] == 1));
}

#[test]
fn every_date_pattern_reaches_the_payloads() {
    let cases: &[(&str, &[&str])] = &[
        ("today", &["2024-06-12"]),
        ("yesterday", &["2024-06-11"]),
        ("3_days_back", &["2024-06-09"]),
        ("last_2_days", &["2024-06-10", "2024-06-11"]),
        ("previous_2_days", &["2024-06-08", "2024-06-09"]),
        (
            "last_week",
            &[
                "2024-06-02",
                "2024-06-03",
                "2024-06-04",
                "2024-06-05",
                "2024-06-06",
                "2024-06-07",
                "2024-06-08",
            ],
        ),
        (
            "previous_week",
            &[
                "2024-05-26",
                "2024-05-27",
                "2024-05-28",
                "2024-05-29",
                "2024-05-30",
                "2024-05-31",
                "2024-06-01",
            ],
        ),
    ];
    for (period, dates) in cases {
        let job = json!({"labourer": "w", "period": period});
        let chunked = chunk(&job, &[], "2024-06-12");
        assert_eq!(chunked.payloads, [json!({"date_list": dates})], "{period}");
    }
}

#[test]
fn control_keys_and_job_keys_stay_out_of_payloads() {
    let job = json!({"labourer": "w", "job_schema_name": "default", "rerun": true,
        "max_stores_per_batch": 1, "period": "today", "stores": [1, 2.5], "note": "x"});
    let chunked = chunk(&job, &["store"], "2024-06-12");
    assert!(chunked.rerun);
    assert_eq!(
        chunked.payloads,
        [
            json!({"stores": [1], "note": "x", "date_list": ["2024-06-12"]}),
            json!({"stores": [2.5], "note": "x", "date_list": ["2024-06-12"]}),
        ]
    );
}

#[test]
fn job_schema_name_picks_a_variant() {
    let mut v = variants(&["section"]);
    v.insert(
        "by_store".into(),
        JobSchema {
            chunkable_attrs: vec!["store".into()],
        },
    );
    let job =
        r#"{"labourer":"w","job_schema_name":"by_store","isolate_stores":true,"stores":["a","b"]}"#;
    let chunked = chunk_job(job, &v, parse_date("2024-06-12").unwrap()).unwrap();
    assert_eq!(chunked.payloads.len(), 2);
    let err = chunk_job(
        r#"{"labourer":"w","job_schema_name":"nope"}"#,
        &v,
        parse_date("2024-06-12").unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field, "job_schema_name");
    assert!(err.message.contains("by_store, default"), "{err}");
}

#[test]
fn bad_jobs_name_the_field() {
    let attrs = variants(&["section", "store", "product"]);
    let today = parse_date("2024-06-12").unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"sections":["a"]}"#, "labourer", "is missing"),
        (r#"{"labourer":3}"#, "labourer", "not a number"),
        (
            r#"{"labourer":"w","period":"tomorrow"}"#,
            "period",
            "`tomorrow`",
        ),
        (
            r#"{"labourer":"w","isolate_days":true}"#,
            "isolate_days",
            "needs a `period`",
        ),
        (
            r#"{"labourer":"w","isolate_colors":true}"#,
            "isolate_colors",
            "`colors` names no chunkable attribute",
        ),
        (
            r#"{"labourer":"w","sections":["a"],"max_sections_per_batch":0}"#,
            "max_sections_per_batch",
            "at least 1",
        ),
        (
            r#"{"labourer":"w","sections":["a"],"isolate_sections":"yes"}"#,
            "isolate_sections",
            "true or false",
        ),
        (
            r#"{"labourer":"w","sections":["a",true]}"#,
            "sections[1]",
            "strings or numbers",
        ),
        (
            r#"{"labourer":"w","sections":["a","a"]}"#,
            "sections[1]",
            "listed twice",
        ),
        (
            r#"{"labourer":"w","sections":[]}"#,
            "sections",
            "lists no values",
        ),
        (
            r#"{"labourer":"w","sections":{"a":{"stores":["x"],"colour":"red"}}}"#,
            "sections.a.colour",
            "business attributes go at the top",
        ),
        (
            r#"{"labourer":"w","sections":{"a":{"products":{"p":{"stores":["s"]}}}}}"#,
            "sections.a.products.p.stores",
            "cannot be nested",
        ),
        (
            r#"{"labourer":"w","sections":{"a":3}}"#,
            "sections.a",
            "null or an object",
        ),
        (
            r#"{"labourer":"w","isolate_stores":true,"sections":["a"]}"#,
            "isolate_stores",
            "no `stores` list",
        ),
        (
            r#"{"labourer":"w","sections":["a"],"stores":["b"]}"#,
            "stores",
            "at one level",
        ),
        (
            r#"{"labourer":"w","date_list":["2024-02-30"]}"#,
            "date_list[0]",
            "not a date",
        ),
        (r#"[1]"#, "(job)", "JSON object"),
    ];
    for (job, field, message) in cases {
        let err = chunk_job(job, &attrs, today).unwrap_err();
        assert_eq!(err.field, *field, "{job}: {err}");
        assert!(err.message.contains(message), "{job}: {err}");
        assert!(err.to_string().starts_with(&format!("job field `{field}`")));
    }
}

// ---- property test ----

/// A generated job over section → store: each section is plain or has stores.
#[derive(Debug, Clone)]
struct GenJob {
    isolate_sections: bool,
    max_sections: Option<usize>,
    sections: Vec<(String, Option<GenStores>)>,
    isolate_days: bool,
    days: u8,
}

#[derive(Debug, Clone)]
struct GenStores {
    isolate: bool,
    max: Option<usize>,
    stores: Vec<String>,
}

fn gen_stores() -> impl Strategy<Value = GenStores> {
    (
        any::<bool>(),
        proptest::option::of(1usize..4),
        proptest::collection::btree_set("[a-z]{1,3}", 1..6),
    )
        .prop_map(|(isolate, max, stores)| GenStores {
            isolate,
            max,
            stores: stores.into_iter().collect(),
        })
}

fn gen_job() -> impl Strategy<Value = GenJob> {
    (
        any::<bool>(),
        proptest::option::of(1usize..4),
        proptest::collection::btree_map("[A-Z]{1,3}", proptest::option::of(gen_stores()), 1..7),
        any::<bool>(),
        1u8..4,
    )
        .prop_map(
            |(isolate_sections, max_sections, sections, isolate_days, days)| GenJob {
                isolate_sections,
                max_sections,
                sections: sections.into_iter().collect(),
                isolate_days,
                days,
            },
        )
}

impl GenJob {
    fn to_json(&self) -> Value {
        let mut sections = serde_json::Map::new();
        for (name, stores) in &self.sections {
            let value = match stores {
                None => Value::Null,
                Some(s) => {
                    let mut o = json!({"stores": s.stores, "isolate_stores": s.isolate});
                    if let Some(max) = s.max {
                        o["max_stores_per_batch"] = json!(max);
                    }
                    o
                }
            };
            sections.insert(name.clone(), value);
        }
        let mut job = json!({"labourer": "w", "period": format!("last_{}_days", self.days),
            "isolate_days": self.isolate_days, "isolate_sections": self.isolate_sections,
            "sections": sections});
        if let Some(max) = self.max_sections {
            job["max_sections_per_batch"] = json!(max);
        }
        job
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_value_lands_in_exactly_one_task_per_date(job in gen_job()) {
        let chunked = chunk(&job.to_json(), &["section", "store"], "2024-06-12");
        // Leaves: (date, section, store-or-empty) → number of tasks covering it.
        let mut covered: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        let nested: BTreeMap<&str, &GenStores> = job
            .sections
            .iter()
            .filter_map(|(n, s)| s.as_ref().map(|s| (n.as_str(), s)))
            .collect();
        for payload in &chunked.payloads {
            let dates = strings(&payload["date_list"]);
            prop_assert_eq!(dates.len(), if job.isolate_days { 1 } else { job.days as usize });
            let sections = strings(&payload["sections"]);
            prop_assert!(!sections.is_empty());
            let stores = payload.get("stores").map(strings);
            match &stores {
                Some(stores) => {
                    // A task with stores is for one section that has them.
                    prop_assert_eq!(sections.len(), 1);
                    let spec = nested.get(sections[0].as_str()).expect("section with stores");
                    prop_assert!(!stores.is_empty());
                    if spec.isolate {
                        prop_assert_eq!(stores.len(), 1);
                    }
                    if let Some(max) = spec.max {
                        prop_assert!(stores.len() <= max);
                    }
                }
                None => {
                    if job.isolate_sections {
                        prop_assert_eq!(sections.len(), 1);
                    }
                    if let Some(max) = job.max_sections {
                        prop_assert!(sections.len() <= max);
                    }
                }
            }
            for date in &dates {
                for section in &sections {
                    let leaves = match &stores {
                        Some(stores) => stores.clone(),
                        None => vec![String::new()],
                    };
                    for store in leaves {
                        *covered.entry((date.clone(), section.clone(), store)).or_default() += 1;
                    }
                }
            }
        }
        let today = parse_date("2024-06-12").unwrap();
        let all_dates = orkestra::scheduler::dates::period_dates(&format!("last_{}_days", job.days), today).unwrap();
        let mut expected = BTreeSet::new();
        for date in &all_dates {
            for (section, stores) in &job.sections {
                match stores {
                    None => { expected.insert((date.clone(), section.clone(), String::new())); }
                    Some(s) => for store in &s.stores {
                        expected.insert((date.clone(), section.clone(), store.clone()));
                    },
                }
            }
        }
        let got: BTreeSet<_> = covered.keys().cloned().collect();
        prop_assert_eq!(got, expected);
        prop_assert!(covered.values().all(|&n| n == 1), "a value landed twice: {:?}", covered);
    }
}
