//! What `#[compose(..)]` and `#[durable_execution(..)]` share in reading their options: every
//! option parsed with all mistakes reported in one compile, each at most once, by name.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Meta, Token};

/// Parses `args` as comma-separated options and gives each to `parse_one`, combining every
/// error into one (so a compile shows all mistakes at once).
pub fn parse_each(
    args: TokenStream,
    mut parse_one: impl FnMut(&Meta) -> syn::Result<()>,
) -> syn::Result<()> {
    let metas = syn::parse::Parser::parse2(Punctuated::<Meta, Token![,]>::parse_terminated, args)?;
    let mut errors: Option<syn::Error> = None;
    for meta in &metas {
        if let Err(error) = parse_one(meta) {
            match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            }
        }
    }
    errors.map_or(Ok(()), Err)
}

/// The option's name as written (`map`, or a whole path such as `a::b`).
pub fn name(meta: &Meta) -> String {
    let path = meta.path();
    path.get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| path.to_token_stream().to_string())
}

/// An error on the second occurrence of an option already set.
pub fn once<T>(slot: &Option<T>, meta: &Meta) -> syn::Result<()> {
    match slot {
        Some(_) => Err(syn::Error::new_spanned(meta, "this option is given twice")),
        None => Ok(()),
    }
}

/// The value of `name = value`; anything else is an error showing how to write it.
pub fn value<'m>(meta: &'m Meta, name: &str, example: &str) -> syn::Result<&'m syn::Expr> {
    match meta {
        Meta::NameValue(pair) => Ok(&pair.value),
        _ => Err(syn::Error::new_spanned(
            meta,
            format!("`{name}` takes a value: write `{name} = {example}`"),
        )),
    }
}
