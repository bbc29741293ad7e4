//! `#[durable_step]` and `#[durable_execution]`: validate the function's shape, then emit
//! calls into `orkestra::durable`.

mod execution;
mod options;
mod step;

pub use execution::expand as expand_execution;
pub use step::expand as expand_step;

use syn::spanned::Spanned;
use syn::{ItemFn, Signature};

/// Rejects `const`, `unsafe`, `extern`, variadic and generic functions, naming `what`.
fn check_plain(sig: &Signature, what: &str) -> syn::Result<()> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!("{what} cannot be a `const fn`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            format!("{what} cannot have an `extern` ABI"),
        ));
    }
    if !matches!(sig.safety, syn::Safety::Default) {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!("{what} cannot be an `unsafe fn`"),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            format!("{what} cannot be variadic"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{what} cannot be generic: its checkpointed types must be fixed"),
        ));
    }
    Ok(())
}

/// Parses the item, rejecting attribute arguments.
fn parse_fn(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
    attr: &str,
) -> syn::Result<ItemFn> {
    if !args.is_empty() {
        return Err(syn::Error::new(
            args.span(),
            format!(
                "`#[{attr}]` takes no arguments; name a step at the call site with `.name(\"..\")`"
            ),
        ));
    }
    syn::parse2(item)
}
