//! `#[durable_execution(..)]`: checks `async fn handler(event: E, ctx: DurableContext) -> Result<T, Err>`
//! and keeps it as is, registering it by name (for the CLI's `durable start/resume`, `ctx.invoke`
//! and export) with the options written on the attribute, and adds a same-named companion type
//! in the type namespace (`handler::aws_lambda()`, `handler::DURABLE_HANDLER_NAME`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ReturnType, Type};

const SHAPE: &str = "a durable handler has the shape `async fn handler(event: E, ctx: DurableContext) -> Result<T, Err>`";

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = super::options::parse(args)?;
    let function: syn::ItemFn = syn::parse2(item)?;
    let sig = &function.sig;
    super::check_plain(sig, "a durable handler")?;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!("{SHAPE}: make it an `async fn`"),
        ));
    }
    let typed: Vec<_> = sig
        .inputs
        .iter()
        .map(|a| match a {
            FnArg::Typed(t) => Ok(t),
            FnArg::Receiver(r) => Err(syn::Error::new(
                r.span(),
                format!("{SHAPE}: it cannot take `self`"),
            )),
        })
        .collect::<syn::Result<_>>()?;
    if typed.len() != 2 {
        return Err(syn::Error::new(
            sig.inputs
                .span()
                .join(sig.paren_token.span.join())
                .unwrap_or(sig.paren_token.span.join()),
            format!("{SHAPE}: it takes exactly two parameters, the event and the context"),
        ));
    }
    if let Type::Reference(r) = &*typed[0].ty {
        return Err(syn::Error::new(
            r.span(),
            "the event is decoded from JSON, so it is taken by value: use an owned type",
        ));
    }
    if let Type::Reference(r) = &*typed[1].ty {
        return Err(syn::Error::new(
            r.span(),
            "the context is passed by value: write `ctx: DurableContext`",
        ));
    }
    if matches!(sig.output, ReturnType::Default) {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            format!("{SHAPE}: add a `-> Result<T, Err>` return type"),
        ));
    }
    let name = &sig.ident;
    let name_str = name.to_string();
    let vis = &function.vis;
    let options = options.to_tokens();
    let doc = format!(
        "Durable handler `{name_str}`: the companion of the function [`{name_str}()`]; `{name_str}::aws_lambda()` is its Lambda durable function."
    );
    Ok(quote! {
        #function

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #[allow(dead_code)]
        impl #name {
            /// The handler's registered name (what `ctx.invoke` and `durable start` take).
            pub const DURABLE_HANDLER_NAME: &'static str = #name_str;

            /// What the attribute declares (durable configuration, `invokes`).
            pub const DURABLE_OPTIONS: ::orkestra::durable::DurableHandlerOptions = #options;

            /// The handler's Lambda durable function (adjust it, then hand it to a `Template`).
            pub fn aws_lambda() -> ::orkestra::export::DurableFunction {
                ::orkestra::export::DurableFunction::new(Self::DURABLE_HANDLER_NAME, Self::DURABLE_OPTIONS)
            }
        }

        impl ::orkestra::durable::DurableHandlerDef for #name {
            const NAME: &'static str = #name_str;
        }

        const _: () = {
            fn __orkestra_make_durable_handler() -> ::std::boxed::Box<dyn ::orkestra::durable::DurableHandler> {
                ::std::boxed::Box::new(::orkestra::durable::handler_fn(#name))
            }
            ::orkestra::__private::inventory::submit! {
                ::orkestra::durable::DurableHandlerEntry {
                    name: #name_str,
                    make: __orkestra_make_durable_handler,
                    module: ::std::module_path!(),
                    file: ::std::file!(),
                    line: ::std::line!(),
                    options: #name::DURABLE_OPTIONS,
                }
            }
        };
    })
}
