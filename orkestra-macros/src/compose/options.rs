//! The options of `#[compose(..)]`, each validated with an error spanned on its tokens.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{LitFloat, LitInt, LitStr};

const SUPPORTED: &str =
    "map, capture_errors, name = \"..\", max_concurrency = N, timeout_secs = N, memory_mb = N, retry(..)";
const RETRY_SUPPORTED: &str =
    "max_attempts = N, interval_secs = N, backoff_rate = F, max_delay_secs = N, errors = [\"..\"]";

#[derive(Default)]
pub struct Options {
    pub map: Option<Span>,
    pub capture_errors: Option<Span>,
    pub name: Option<LitStr>,
    pub max_concurrency: Option<(u32, Span)>,
    pub timeout_secs: Option<u32>,
    pub memory_mb: Option<u32>,
    pub retry: Vec<Retry>,
}

pub struct Retry {
    pub max_attempts: u32,
    pub interval_secs: u32,
    pub backoff_rate: f64,
    pub max_delay_secs: Option<u32>,
    pub errors: Vec<LitStr>,
}

pub fn parse(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse_one(meta));
    syn::parse::Parser::parse2(parser, args)?;
    options.validate()?;
    Ok(options)
}

fn once<T>(slot: &Option<T>, meta: &ParseNestedMeta) -> syn::Result<()> {
    match slot {
        Some(_) => Err(meta.error("this option is given twice")),
        None => Ok(()),
    }
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
    fn parse_one(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("map") {
            once(&self.map, &meta)?;
            self.map = Some(path.span());
        } else if path.is_ident("capture_errors") {
            once(&self.capture_errors, &meta)?;
            self.capture_errors = Some(path.span());
        } else if path.is_ident("name") {
            once(&self.name, &meta)?;
            let name: LitStr = meta.value()?.parse()?;
            check_task_name(&name)?;
            self.name = Some(name);
        } else if path.is_ident("max_concurrency") {
            once(&self.max_concurrency, &meta)?;
            self.max_concurrency = Some((int(&meta, 0)?, path.span()));
        } else if path.is_ident("timeout_secs") {
            once(&self.timeout_secs, &meta)?;
            self.timeout_secs = Some(int(&meta, 1)?);
        } else if path.is_ident("memory_mb") {
            once(&self.memory_mb, &meta)?;
            self.memory_mb = Some(int(&meta, 128)?);
        } else if path.is_ident("retry") {
            self.retry.push(parse_retry(&meta)?);
        } else if path.is_ident("is_map_job") || path.is_ident("capture_map_errors") {
            let rust = if path.is_ident("is_map_job") {
                "map"
            } else {
                "capture_errors"
            };
            return Err(meta.error(format!("Orkestra's Python option is spelt `{rust}` here")));
        } else {
            let name = path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_else(|| "this".into());
            return Err(meta.error(format!(
                "unknown option `{name}`; supported options: {SUPPORTED}"
            )));
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

fn parse_retry(meta: &ParseNestedMeta) -> syn::Result<Retry> {
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
