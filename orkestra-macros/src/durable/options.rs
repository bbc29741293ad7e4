//! The options of `#[durable_execution(..)]`, each validated with an error spanned on its
//! tokens: the durable function's configuration and the handlers it may chain.

use crate::attr_options::{self, once, value};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, LitInt, Meta};

const SUPPORTED: &str = "execution_timeout_secs = N, retention_days = N, memory_mb = N, timeout_secs = N, invokes = [handler, ..]";

/// The limits Lambda sets (the `AWS::Lambda::Function` schema: `DurableConfig`, `MemorySize`,
/// `Timeout`), so a bad value fails the build rather than the deployment.
const EXECUTION_TIMEOUT: (u32, u32) = (1, 31_622_400);
const RETENTION_DAYS: (u32, u32) = (1, 90);
const MEMORY_MB: (u32, u32) = (128, 10_240);
const TIMEOUT_SECS: (u32, u32) = (1, 900);

#[derive(Default)]
pub struct Options {
    pub execution_timeout_secs: Option<u32>,
    pub retention_days: Option<u32>,
    pub memory_mb: Option<u32>,
    pub timeout_secs: Option<u32>,
    /// The declared targets, as written (paths to other `#[durable_execution]` handlers).
    pub invokes: Option<Vec<syn::Path>>,
}

/// Parses every option, reporting all mistakes in one compile.
pub fn parse(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    attr_options::parse_each(args, |meta| options.parse_one(meta))?;
    Ok(options)
}

/// An integer literal within `min..=max`, naming the limit's source when outside it.
fn int_in(meta: &Meta, name: &str, (min, max): (u32, u32), what: &str) -> syn::Result<u32> {
    let expr = value(meta, name, "N")?;
    let lit: LitInt = syn::parse2(expr.to_token_stream()).map_err(|_| {
        syn::Error::new_spanned(
            expr,
            format!("`{name}` takes an integer literal, e.g. `{name} = {max}`"),
        )
    })?;
    let value: u64 = lit.base10_parse()?;
    if value < u64::from(min) || value > u64::from(max) {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{name}` must be from {min} to {max} ({what})"),
        ));
    }
    Ok(value as u32)
}

impl Options {
    fn parse_one(&mut self, meta: &Meta) -> syn::Result<()> {
        match attr_options::name(meta).as_str() {
            "execution_timeout_secs" => {
                once(&self.execution_timeout_secs, meta)?;
                self.execution_timeout_secs = Some(int_in(
                    meta,
                    "execution_timeout_secs",
                    EXECUTION_TIMEOUT,
                    "seconds; Lambda's `DurableConfig.ExecutionTimeout`",
                )?);
            }
            "retention_days" => {
                once(&self.retention_days, meta)?;
                self.retention_days = Some(int_in(
                    meta,
                    "retention_days",
                    RETENTION_DAYS,
                    "days; Lambda's `DurableConfig.RetentionPeriodInDays`",
                )?);
            }
            "memory_mb" => {
                once(&self.memory_mb, meta)?;
                self.memory_mb = Some(int_in(
                    meta,
                    "memory_mb",
                    MEMORY_MB,
                    "MB; Lambda's `MemorySize`",
                )?);
            }
            "timeout_secs" => {
                once(&self.timeout_secs, meta)?;
                self.timeout_secs = Some(int_in(
                    meta,
                    "timeout_secs",
                    TIMEOUT_SECS,
                    "seconds of one invocation; Lambda's `Timeout`; the execution's limit is `execution_timeout_secs`",
                )?);
            }
            "invokes" => {
                once(&self.invokes, meta)?;
                self.invokes = Some(invokes(meta)?);
            }
            other => {
                return Err(syn::Error::new_spanned(
                    meta.path(),
                    format!("unknown option `{other}`; supported options: {SUPPORTED}"),
                ))
            }
        }
        Ok(())
    }

    /// The `DurableHandlerOptions` value; each declared target's name is read through its
    /// companion's `DurableHandlerDef`, so a name that is no durable handler in scope fails to
    /// compile at the name.
    pub fn to_tokens(&self) -> TokenStream {
        let opt = |v: Option<u32>| match v {
            Some(v) => quote!(::core::option::Option::Some(#v)),
            None => quote!(::core::option::Option::None),
        };
        let execution_timeout_secs = opt(self.execution_timeout_secs);
        let retention_days = opt(self.retention_days);
        let memory_mb = opt(self.memory_mb);
        let timeout_secs = opt(self.timeout_secs);
        let targets = self.invokes.iter().flatten().map(|path| {
            quote_spanned!(path.span()=> <#path as ::orkestra::durable::DurableHandlerDef>::NAME)
        });
        quote! {
            ::orkestra::durable::DurableHandlerOptions {
                execution_timeout_secs: #execution_timeout_secs,
                retention_days: #retention_days,
                memory_mb: #memory_mb,
                timeout_secs: #timeout_secs,
                invokes: &[#(#targets),*],
            }
        }
    }
}

/// `invokes = [a, path::to::b]`: paths to durable handlers, each once.
fn invokes(meta: &Meta) -> syn::Result<Vec<syn::Path>> {
    const SHAPE: &str =
        "`invokes` takes a list of durable handlers: write `invokes = [other_handler, ..]`";
    let expr = value(meta, "invokes", "[other_handler, ..]")?;
    let Expr::Array(array) = expr else {
        return Err(syn::Error::new_spanned(expr, SHAPE));
    };
    let mut paths: Vec<syn::Path> = Vec::new();
    for element in &array.elems {
        let Expr::Path(path) = element else {
            return Err(syn::Error::new_spanned(
                element,
                "name a `#[durable_execution]` handler here (its function's name or path), not an expression",
            ));
        };
        let last = path.path.segments.last().map(|s| s.ident.to_string());
        if paths
            .iter()
            .any(|p| p.segments.last().map(|s| s.ident.to_string()) == last)
        {
            return Err(syn::Error::new_spanned(
                element,
                "this handler is already in `invokes`",
            ));
        }
        paths.push(path.path.clone());
    }
    Ok(paths)
}
