//! Checks that a `#[compose]` function has a task's shape: `fn(event: In, ctx: &Context) -> Out`.

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

pub struct TaskSignature {
    /// The event (for a map task, the item) type.
    pub input: Type,
    /// The written return type (`()` when there is none).
    pub output: Type,
    /// Whether the return type is a `Result`, whose error is named with `ErrorName`.
    pub fallible: bool,
    /// The error type as written (`E` of `Result<T, E>`), or the whole return type.
    pub error_span: proc_macro2::Span,
    pub is_async: bool,
}

const SHAPE: &str = "a composed task has the shape `fn name(event: In, ctx: &Context) -> Out`";

impl TaskSignature {
    pub fn check(function: &ItemFn) -> syn::Result<TaskSignature> {
        let sig = &function.sig;
        if let Some(constness) = &sig.constness {
            return Err(syn::Error::new(
                constness.span,
                "a composed task cannot be a `const fn`",
            ));
        }
        if let Some(abi) = &sig.abi {
            return Err(syn::Error::new(
                abi.span(),
                "a composed task cannot have an `extern` ABI",
            ));
        }
        if !matches!(sig.safety, syn::Safety::Default) {
            return Err(syn::Error::new(
                sig.fn_token.span,
                "a composed task cannot be an `unsafe fn`",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            return Err(syn::Error::new(variadic.span(), SHAPE));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            return Err(syn::Error::new(
                sig.generics.span(),
                "a composed task cannot be generic: its input and output types are fixed when it is registered",
            ));
        }
        let mut args = sig.inputs.iter();
        let event =
            match args.next() {
                Some(FnArg::Typed(event)) => event,
                Some(FnArg::Receiver(receiver)) => return Err(syn::Error::new(
                    receiver.span(),
                    "a composed task is a free function, not a method: remove the `self` receiver",
                )),
                None => {
                    return Err(syn::Error::new(
                        sig.paren_token.span.join(),
                        "a composed task takes the event and the context: write `fn task(event: In, ctx: &Context)`",
                    ))
                }
            };
        let context = match args.next() {
            Some(FnArg::Typed(context)) => context,
            Some(FnArg::Receiver(receiver)) => return Err(syn::Error::new(receiver.span(), SHAPE)),
            None => {
                return Err(syn::Error::new(
                    sig.paren_token.span.join(),
                    "the context parameter is missing: write `fn task(event: In, ctx: &Context)`",
                ))
            }
        };
        if let Some(extra) = args.next() {
            return Err(syn::Error::new(
                extra.span(),
                format!("{SHAPE}: it takes exactly two parameters, the event and the context"),
            ));
        }
        if let Type::Reference(reference) = &*event.ty {
            return Err(syn::Error::new(
                reference.span(),
                "the event is decoded from JSON, so it is taken by value: use an owned type, e.g. `String` for `&str`",
            ));
        }
        if !matches!(&*context.ty, Type::Reference(r) if r.mutability.is_none()) {
            return Err(syn::Error::new(
                context.ty.span(),
                "the second parameter is the task's context: write it as `ctx: &Context`",
            ));
        }
        let (output, fallible) = match &sig.output {
            ReturnType::Default => (syn::parse_quote!(()), false),
            ReturnType::Type(_, ty) => ((**ty).clone(), is_result(ty)),
        };
        let error_span = error_type(&output).unwrap_or_else(|| output.span());
        Ok(TaskSignature {
            input: (*event.ty).clone(),
            output,
            fallible,
            error_span,
            is_async: sig.asyncness.is_some(),
        })
    }
}

/// The span of `E` in a written `Result<T, E>`.
fn error_type(ty: &Type) -> Option<proc_macro2::Span> {
    let Type::Path(path) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    args.args
        .iter()
        .filter(|a| matches!(a, syn::GenericArgument::Type(_)))
        .nth(1)
        .map(|a| a.span())
}

/// `Result<..>` or `some::path::Result<..>`: its error is converted with `ErrorName`.
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        _ => false,
    }
}
