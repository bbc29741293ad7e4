//! The options of `#[compose(..)]`, each validated with an error spanned on its tokens.

use crate::attr_options::{self, once, value};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{LitFloat, LitInt, LitStr, Meta};

const SUPPORTED: &str =
    "map, capture_errors, state_data, name = \"..\", max_concurrency = N, timeout_secs = N, memory_mb = N, max_simultaneous_invocations = N, max_attempts = N, retry(..)";
const RETRY_SUPPORTED: &str =
    "max_attempts = N, interval_secs = N, backoff_rate = F, max_delay_secs = N, errors = [\"..\"]";

#[derive(Default)]
pub struct Options {
    pub map: Option<Span>,
    pub capture_errors: Option<Span>,
    pub state_data: Option<Span>,
    pub name: Option<LitStr>,
    pub max_concurrency: Option<(u32, Span)>,
    pub timeout_secs: Option<u32>,
    pub memory_mb: Option<u32>,
    pub max_simultaneous_invocations: Option<u32>,
    pub max_attempts: Option<u32>,
    pub retry: Vec<Retry>,
}

pub struct Retry {
    pub max_attempts: u32,
    pub interval_secs: u32,
    pub backoff_rate: f64,
    pub max_delay_secs: Option<u32>,
    pub errors: Vec<LitStr>,
}

/// Orkestra's Python option names, with what to write here instead.
const PYTHON_SPELLINGS: &[(&str, &str)] = &[
    ("is_map_job", "map"),
    ("map_job", "map"),
    ("capture_map_errors", "capture_errors"),
    ("timeout", "timeout_secs = N"),
    ("memory_size", "memory_mb = N"),
    ("function_name", "name = \"..\""),
];

/// Parses every option, reporting all mistakes in one compile.
pub fn parse(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    attr_options::parse_each(args, |meta| options.parse_one(meta))?;
    options.validate()?;
    Ok(options)
}

/// A flag (`map`) must be written bare.
fn flag(meta: &Meta, name: &str) -> syn::Result<Span> {
    match meta {
        Meta::Path(path) => Ok(path.span()),
        _ => Err(syn::Error::new_spanned(
            meta,
            format!("`{name}` is a flag: write `{name}`"),
        )),
    }
}

fn int_value(expr: &syn::Expr, min: u32) -> syn::Result<u32> {
    let lit: LitInt = syn::parse2(expr.to_token_stream())?;
    let value: u32 = lit.base10_parse()?;
    if value < min {
        return Err(syn::Error::new(
            lit.span(),
            format!("must be at least {min}"),
        ));
    }
    Ok(value)
}

fn int(meta: &ParseNestedMeta, min: u32) -> syn::Result<u32> {
    let lit: LitInt = meta.value()?.parse()?;
    let value: u32 = lit.base10_parse()?;
    if value < min {
        return Err(syn::Error::new(
            lit.span(),
            format!("must be at least {min}"),
        ));
    }
    Ok(value)
}

impl Options {
    fn parse_one(&mut self, meta: &Meta) -> syn::Result<()> {
        let path = meta.path();
        match attr_options::name(meta).as_str() {
            "map" => {
                once(&self.map, meta)?;
                self.map = Some(flag(meta, "map")?);
            }
            "capture_errors" => {
                once(&self.capture_errors, meta)?;
                self.capture_errors = Some(flag(meta, "capture_errors")?);
            }
            "state_data" => {
                once(&self.state_data, meta)?;
                self.state_data = Some(flag(meta, "state_data")?);
            }
            "name" => {
                once(&self.name, meta)?;
                let expr = value(meta, "name", "\"..\"")?;
                let name: LitStr = syn::parse2(expr.to_token_stream())?;
                check_task_name(&name)?;
                self.name = Some(name);
            }
            "max_concurrency" => {
                once(&self.max_concurrency, meta)?;
                let n = int_value(value(meta, "max_concurrency", "N")?, 0)?;
                self.max_concurrency = Some((n, path.span()));
            }
            "timeout_secs" => {
                once(&self.timeout_secs, meta)?;
                self.timeout_secs = Some(int_value(value(meta, "timeout_secs", "N")?, 1)?);
            }
            "memory_mb" => {
                once(&self.memory_mb, meta)?;
                self.memory_mb = Some(int_value(value(meta, "memory_mb", "N")?, 128)?);
            }
            "max_simultaneous_invocations" => {
                once(&self.max_simultaneous_invocations, meta)?;
                let expr = value(meta, "max_simultaneous_invocations", "N")?;
                self.max_simultaneous_invocations = Some(int_value(expr, 1)?);
            }
            "max_attempts" => {
                once(&self.max_attempts, meta)?;
                self.max_attempts = Some(int_value(value(meta, "max_attempts", "N")?, 1)?);
            }
            "retry" => match meta {
                Meta::List(list) => self.retry.push(parse_retry(list)?),
                _ => {
                    return Err(syn::Error::new_spanned(
                        meta,
                        format!("`retry` takes settings: write `retry({RETRY_SUPPORTED})`"),
                    ))
                }
            },
            other => {
                if let Some((_, rust)) = PYTHON_SPELLINGS.iter().find(|(py, _)| *py == other) {
                    return Err(syn::Error::new_spanned(
                        path,
                        format!("`{other}` is Orkestra's Python spelling: write `{rust}` here"),
                    ));
                }
                return Err(syn::Error::new_spanned(
                    path,
                    format!("unknown option `{other}`; supported options: {SUPPORTED}"),
                ));
            }
        }
        Ok(())
    }

    fn validate(&self) -> syn::Result<()> {
        if self.map.is_none() {
            if let Some(span) = self.capture_errors {
                return Err(syn::Error::new(
                    span,
                    "`capture_errors` only applies to map tasks: write `#[compose(map, capture_errors)]`",
                ));
            }
            if let Some((_, span)) = self.max_concurrency {
                return Err(syn::Error::new(
                    span,
                    "`max_concurrency` only applies to map tasks: add `map`",
                ));
            }
        }
        Ok(())
    }
}

fn check_task_name(name: &LitStr) -> syn::Result<()> {
    let value = name.value();
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            name.span(),
            "a task name is 1 to 64 ASCII letters, digits, `_` or `-` (it names a Lambda function)",
        ))
    }
}

fn parse_retry(meta: &syn::MetaList) -> syn::Result<Retry> {
    let mut retry = Retry {
        max_attempts: 3,
        interval_secs: 1,
        backoff_rate: 2.0,
        max_delay_secs: None,
        errors: Vec::new(),
    };
    meta.parse_nested_meta(|inner| {
        let path = &inner.path;
        if path.is_ident("max_attempts") {
            retry.max_attempts = int(&inner, 0)?;
        } else if path.is_ident("interval_secs") {
            retry.interval_secs = int(&inner, 1)?;
        } else if path.is_ident("max_delay_secs") {
            retry.max_delay_secs = Some(int(&inner, 1)?);
        } else if path.is_ident("backoff_rate") {
            let stream = inner.value()?;
            let (value, span) = if stream.peek(LitFloat) {
                let lit: LitFloat = stream.parse()?;
                (lit.base10_parse::<f64>()?, lit.span())
            } else {
                let lit: LitInt = stream.parse()?;
                (lit.base10_parse::<f64>()?, lit.span())
            };
            if value < 1.0 {
                return Err(syn::Error::new(
                    span,
                    "`backoff_rate` must be at least 1.0 (ASL's rule)",
                ));
            }
            retry.backoff_rate = value;
        } else if path.is_ident("errors") {
            let stream = inner.value()?;
            let content;
            syn::bracketed!(content in stream);
            let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
            if list.is_empty() {
                return Err(
                    inner.error("`errors` names at least one error, e.g. `[\"States.ALL\"]`")
                );
            }
            retry.errors = list.into_iter().collect();
        } else {
            return Err(inner.error(format!(
                "unknown retry setting; supported: {RETRY_SUPPORTED}"
            )));
        }
        Ok(())
    })?;
    Ok(retry)
}
