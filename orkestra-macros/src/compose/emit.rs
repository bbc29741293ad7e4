//! What `#[compose]` emits: the untouched function, a same-named companion type in the type
//! namespace, and the task's registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::ItemFn;

use super::options::{Options, Retry};
use super::signature::TaskSignature;

pub fn task(function: &ItemFn, signature: &TaskSignature, options: &Options) -> TokenStream {
    let fn_name = &function.sig.ident;
    let vis = &function.vis;
    let key = options
        .name
        .as_ref()
        .map(|name| name.value())
        .unwrap_or_else(|| fn_name.to_string());
    let input = &signature.input;
    let written_output = &signature.output;
    let output = if signature.fallible {
        quote!(<#written_output as ::orkestra::__private::IntoTaskResult>::Ok)
    } else {
        quote!(#written_output)
    };
    let (step_in, step_out) = step_types(options, input, &output);
    let items_item = options
        .map
        .is_some()
        .then(|| map_iteration_item(input))
        .flatten();
    let (step_in, step_out) = match items_item {
        // A map over a `put_items` pointer: the workflow hands it the pointer.
        Some(item) => (
            quote!(::orkestra::state_data::ItemsPointer<#item>),
            step_out,
        ),
        None => (step_in, step_out),
    };
    let spec_options = task_options(options, items_item.is_some());
    let body = body(fn_name, &key, signature);
    let line = quote_spanned!(fn_name.span()=> ::core::line!());
    let input_text = type_text(input);
    let output_text = type_text(written_output);
    let doc = format!(
        "Orkestra task `{key}`: the companion of the function [`{fn_name}()`]; name it in `workflow!` or as `{fn_name} {{}}`."
    );

    quote! {
        #function

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #fn_name {}

        impl #fn_name {
            /// The task's Step Functions state, in the shape CDK's `CustomState` takes.
            #vis fn task() -> ::orkestra::__private::Value {
                ::orkestra::export::task_state_json(<Self as ::orkestra::TaskDef>::spec())
            }

            /// The task's Lambda function (adjust it, then hand it to a `Template`).
            #vis fn aws_lambda() -> ::orkestra::export::LambdaFunction {
                ::orkestra::export::LambdaFunction::for_task(<Self as ::orkestra::TaskDef>::spec())
            }
        }

        const _: () = {
            static SPEC: ::orkestra::TaskSpec = ::orkestra::TaskSpec {
                name: #key,
                rust_name: ::core::stringify!(#fn_name),
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                options: #spec_options,
                input_type: #input_text,
                output_type: #output_text,
                body: #body,
            };

            ::orkestra::__private::inventory::submit! {
                ::orkestra::__private::TaskEntry(&SPEC)
            }

            impl ::orkestra::TaskDef for #fn_name {
                type Input = #input;
                type Output = #output;
                fn spec() -> &'static ::orkestra::TaskSpec {
                    &SPEC
                }
            }

            impl ::orkestra::Step for #fn_name {
                type In = #step_in;
                type Out = #step_out;
                type First = Self;
                type Last = Self;
                fn into_node(self) -> ::orkestra::Node {
                    ::orkestra::Node::task(&SPEC)
                }
            }

            ::orkestra::__impl_shr!([] #fn_name);
        };
    }
}

/// The workflow-level types: a map task takes a list of items and gives a list of outputs.
fn step_types(
    options: &Options,
    input: &syn::Type,
    output: &TokenStream,
) -> (TokenStream, TokenStream) {
    match (options.map.is_some(), options.capture_errors.is_some()) {
        (false, _) => (quote!(#input), quote!(#output)),
        (true, false) => (
            quote!(::std::vec::Vec<#input>),
            quote!(::std::vec::Vec<#output>),
        ),
        (true, true) => (
            quote!(::std::vec::Vec<#input>),
            quote!(::std::vec::Vec<::orkestra::Captured<#output>>),
        ),
    }
}

fn optional(value: Option<u32>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `T` when a map task's item type is `MapIteration<T>` (any path ending so, e.g.
/// `orkestra::state_data::MapIteration<T>`): the iteration input of a map over a
/// `put_items` pointer.
pub(super) fn map_iteration_item(input: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = input else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "MapIteration" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(item) if args.args.len() == 1 => Some(item),
        _ => None,
    }
}

fn task_options(options: &Options, items_pointer: bool) -> TokenStream {
    let map = options.map.is_some();
    let capture_errors = options.capture_errors.is_some();
    let state_data = options.state_data.is_some();
    let max_concurrency = optional(options.max_concurrency.map(|(value, _)| value));
    let timeout_secs = optional(options.timeout_secs);
    let memory_mb = optional(options.memory_mb);
    let max_simultaneous_invocations = optional(options.max_simultaneous_invocations);
    let max_attempts = optional(options.max_attempts);
    let retry = options.retry.iter().map(retry_policy);
    quote! {
        ::orkestra::TaskOptions {
            map: #map,
            capture_errors: #capture_errors,
            state_data: #state_data,
            items_pointer: #items_pointer,
            max_concurrency: #max_concurrency,
            timeout_secs: #timeout_secs,
            memory_mb: #memory_mb,
            max_simultaneous_invocations: #max_simultaneous_invocations,
            max_attempts: #max_attempts,
            retry: &[#(#retry),*],
        }
    }
}

fn retry_policy(retry: &Retry) -> TokenStream {
    let Retry {
        max_attempts,
        interval_secs,
        backoff_rate,
        max_delay_secs,
        errors,
    } = retry;
    let max_delay_secs = optional(*max_delay_secs);
    let errors = if errors.is_empty() {
        quote!("States.ALL")
    } else {
        quote!(#(#errors),*)
    };
    quote! {
        ::orkestra::RetryPolicy {
            errors: &[#errors],
            max_attempts: #max_attempts,
            interval_secs: #interval_secs,
            backoff_rate: #backoff_rate,
            max_delay_secs: #max_delay_secs,
        }
    }
}

/// The JSON body: decode the event, call the function, encode the output.
fn body(fn_name: &syn::Ident, key: &str, signature: &TaskSignature) -> TokenStream {
    let input = &signature.input;
    let call = if signature.is_async {
        quote!(#fn_name(input, &ctx).await)
    } else {
        quote!(#fn_name(input, ctx))
    };
    let output = if signature.fallible {
        // Spanned on the error type as written, so a missing `Display`/`ErrorName` is one error
        // pointing at the user's type.
        let convert =
            quote_spanned!(signature.error_span=> ::orkestra::__private::into_task_result);
        let call = quote_spanned!(signature.error_span=> ::core::convert::identity(#call));
        quote!(#convert(#call)?)
    } else {
        call
    };
    let steps = quote! {
        let input: #input = ::orkestra::__private::decode_input(#key, input)?;
        let output = #output;
        ::orkestra::__private::encode_output(#key, output)
    };
    if signature.is_async {
        quote! {
            ::orkestra::__private::ErasedBody::Async(
                |input: ::orkestra::__private::Value, ctx: ::orkestra::Context|
                    -> ::orkestra::__private::BoxFuture<::core::result::Result<::orkestra::__private::Value, ::orkestra::TaskError>> {
                    ::std::boxed::Box::pin(async move { #steps })
                }
            )
        }
    } else {
        quote! {
            ::orkestra::__private::ErasedBody::Sync(
                |input: ::orkestra::__private::Value, ctx: &::orkestra::Context|
                    -> ::core::result::Result<::orkestra::__private::Value, ::orkestra::TaskError> {
                    #steps
                }
            )
        }
    }
}

/// A type as written, without the spaces `quote` puts between tokens (`Vec<u8>`, not `Vec < u8 >`).
fn type_text(ty: &syn::Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let next = chars.peek().copied().unwrap_or(' ');
            let prev = out.chars().last().unwrap_or(' ');
            let glue = matches!(next, '<' | '>' | ',' | ':' | ')' | ']')
                || matches!(prev, '<' | ':' | '(' | '[' | '&');
            if !glue {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}
