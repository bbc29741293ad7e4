//! `#[durable_step]`: `fn name(step_ctx: &StepContext, args..) -> Result<T, E>` becomes
//! `fn name(args..) -> NamedStep<T, E>` plus `mod name { fn body(step_ctx, args..) }`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, Pat, ReturnType, Type, Visibility};

const SHAPE: &str =
    "a durable step has the shape `fn name(step_ctx: &StepContext, arg: A, ..) -> Result<T, E>`";

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function = super::parse_fn(args, item, "durable_step")?;
    let sig = &function.sig;
    super::check_plain(sig, "a durable step")?;
    reject_durable_context(sig)?;
    let mut inputs = sig.inputs.iter();
    let ctx_arg = match inputs.next() {
        Some(FnArg::Typed(t)) => t,
        Some(FnArg::Receiver(r)) => {
            return Err(syn::Error::new(
                r.span(),
                format!("{SHAPE}: it cannot take `self`"),
            ))
        }
        None => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                format!("{SHAPE}: the `step_ctx: &StepContext` parameter is missing"),
            ))
        }
    };
    if !matches!(&*ctx_arg.ty, Type::Reference(r) if r.mutability.is_none()) {
        return Err(syn::Error::new(
            ctx_arg.ty.span(),
            "the first parameter of a durable step is its context: write it as `step_ctx: &StepContext`",
        ));
    }
    let mut names = Vec::new();
    let mut params = Vec::new();
    for arg in inputs {
        let FnArg::Typed(t) = arg else {
            return Err(syn::Error::new(arg.span(), SHAPE));
        };
        let Pat::Ident(ident) = &*t.pat else {
            return Err(syn::Error::new(
                t.pat.span(),
                "a durable step's arguments are captured by name: use a plain identifier here",
            ));
        };
        if let Type::Reference(r) = &*t.ty {
            return Err(syn::Error::new(
                r.span(),
                "a durable step's arguments are captured and cloned for each attempt: take an owned type, e.g. `String` for `&str`",
            ));
        }
        let name = &ident.ident;
        let ty = &t.ty;
        names.push(name.clone());
        params.push(quote!(#name: #ty));
    }
    let (ok, err) = match &sig.output {
        ReturnType::Type(_, ty) => result_parts(ty).ok_or_else(|| {
            syn::Error::new(
                ty.span(),
                format!("{SHAPE}: the return type must be `Result<T, E>`"),
            )
        })?,
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                format!("{SHAPE}: add a `-> Result<T, E>` return type"),
            ))
        }
    };
    let name = &sig.ident;
    let name_str = name.to_string();
    let vis = &function.vis;
    let body_vis = match vis {
        Visibility::Inherited => quote!(pub(super)),
        other => quote!(#other),
    };
    let attrs = &function.attrs;
    let asyncness = &sig.asyncness;
    let output = &sig.output;
    let ctx_pat = &ctx_arg.pat;
    let ctx_ty = &ctx_arg.ty;
    let block = &function.block;
    let call_ctx = format_ident!("__orkestra_step_ctx");
    let await_body = asyncness.as_ref().map(|_| quote!(.await));
    let body_doc = format!(
        "The body of the durable step [`{name_str}`](fn@super::{name_str}), callable directly (e.g. in unit tests) with a `StepContext::for_tests()`."
    );
    Ok(quote! {
        #(#attrs)*
        #vis fn #name(#(#params),*) -> ::orkestra::durable::NamedStep<#ok, #err> {
            ::orkestra::durable::NamedStep::new(#name_str, move |#call_ctx: ::orkestra::durable::StepContext| {
                #(let #names = ::core::clone::Clone::clone(&#names);)*
                ::std::boxed::Box::pin(async move { #name::body(&#call_ctx, #(#names),*) #await_body })
            })
        }

        #[doc = #body_doc]
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;

            #[doc = #body_doc]
            #body_vis #asyncness fn body(#ctx_pat: #ctx_ty, #(#params),*) #output #block
        }
    })
}

/// A step's body is checkpointed as one unit, so it cannot start durable operations: refuse a
/// `DurableContext` parameter (by value or by reference) on its type.
fn reject_durable_context(sig: &syn::Signature) -> syn::Result<()> {
    for arg in &sig.inputs {
        let FnArg::Typed(t) = arg else { continue };
        let mut ty = &*t.ty;
        while let Type::Reference(r) = ty {
            ty = &r.elem;
        }
        let Type::Path(path) = ty else { continue };
        if path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "DurableContext")
        {
            return Err(syn::Error::new(
                t.ty.span(),
                "a durable step cannot take a `DurableContext`: its body is checkpointed as one unit, \
                 so it cannot start durable operations; start them in the handler and pass their \
                 results to the step as arguments (the step's own context is `step_ctx: &StepContext`)",
            ));
        }
    }
    Ok(())
}

/// `T` and `E` of a written `Result<T, E>`.
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    Some((ok, err))
}
