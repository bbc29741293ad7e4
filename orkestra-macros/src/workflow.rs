//! `workflow!(name = a >> [b, c] >> (d, e) >> f, schedule = "..")`: rewrites Orkestra's
//! composition spelling into typed Rust and registers the workflow.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, BinOp, Expr, Ident, LitStr, Token, Visibility};

struct WorkflowDecl {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    flow: Expr,
    schedule: Option<LitStr>,
    state_machine_type: Option<LitStr>,
    comment: Option<LitStr>,
}

const SETTINGS: &str = "schedule = \"rate(..)|cron(..)\", state_machine_type = \"STANDARD\"|\"EXPRESS\", comment = \"..\"";

impl Parse for WorkflowDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let flow: Expr = input.parse()?;
        let mut decl = WorkflowDecl {
            attrs,
            vis,
            name,
            flow,
            schedule: None,
            state_machine_type: None,
            comment: None,
        };
        while input.parse::<Option<Token![,]>>()?.is_some() {
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            let slot = match key.to_string().as_str() {
                "schedule" => &mut decl.schedule,
                "state_machine_type" => &mut decl.state_machine_type,
                "comment" => &mut decl.comment,
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown workflow setting `{other}`; supported: {SETTINGS}"),
                    ))
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new(key.span(), "this setting is given twice"));
            }
            *slot = Some(value);
        }
        Ok(decl)
    }
}

pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let decl: WorkflowDecl = syn::parse2(input)?;
    let flow = rewrite(&decl.flow)?;
    let WorkflowDecl {
        attrs, vis, name, ..
    } = &decl;
    let key = name.to_string();
    let settings = settings(&decl)?;
    let doc = format!("Builds the Orkestra workflow `{key}`.");
    Ok(quote! {
        #(#attrs)*
        #[doc = #doc]
        #vis fn #name() -> ::orkestra::Workflow {
            ::orkestra::Workflow::new(#key, #flow).with_settings(#settings)
        }

        ::orkestra::__private::inventory::submit! {
            ::orkestra::__private::WorkflowEntry {
                name: #key,
                build: #name,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: ::core::line!(),
            }
        }
    })
}

fn settings(decl: &WorkflowDecl) -> syn::Result<TokenStream> {
    let kind = match &decl.state_machine_type {
        None => quote!(::orkestra::StateMachineType::Standard),
        Some(lit) => match lit.value().to_ascii_uppercase().as_str() {
            "STANDARD" => quote!(::orkestra::StateMachineType::Standard),
            "EXPRESS" => quote!(::orkestra::StateMachineType::Express),
            _ => {
                return Err(syn::Error::new(
                    lit.span(),
                    "`state_machine_type` is \"STANDARD\" or \"EXPRESS\"",
                ))
            }
        },
    };
    let schedule = match &decl.schedule {
        None => quote!(::core::option::Option::None),
        Some(lit) => {
            let value = lit.value();
            let known = ["rate(", "cron(", "at("];
            if !known.iter().any(|prefix| value.starts_with(prefix)) || !value.ends_with(')') {
                return Err(syn::Error::new(
                    lit.span(),
                    "a schedule is an EventBridge Scheduler expression: `rate(1 hour)`, `cron(0 12 * * ? *)` or `at(2030-01-01T00:00:00)`",
                ));
            }
            quote!(::core::option::Option::Some(::std::string::String::from(#lit)))
        }
    };
    let comment = match &decl.comment {
        None => quote!(::core::option::Option::None),
        Some(lit) => quote!(::core::option::Option::Some(::std::string::String::from(#lit))),
    };
    Ok(quote! {
        ::orkestra::WorkflowSettings {
            state_machine_type: #kind,
            schedule: #schedule,
            comment: #comment,
        }
    })
}

const FORMS: &str = "expected a task, `a >> b`, `[a, b]` (fail-fast parallel group), `(a, b)` (error-swallowing group), `(a >> b)`, `parallel((..))`, `swallow((..))` or a `{ block }` giving a step";

/// Task names become their companion values (`a` becomes `a {}`); brackets and tuples become groups.
fn rewrite(expr: &Expr) -> syn::Result<TokenStream> {
    match expr {
        Expr::Binary(binary) if matches!(binary.op, BinOp::Shr(_)) => {
            let left = rewrite(&binary.left)?;
            let right = rewrite(&binary.right)?;
            let op = &binary.op;
            Ok(quote!(#left #op #right))
        }
        Expr::Path(path) if path.qself.is_none() => {
            let path = &path.path;
            Ok(quote!(#path {}))
        }
        Expr::Array(array) => group(quote!(parallel), array.elems.iter(), array.span()),
        Expr::Tuple(tuple) => group(quote!(swallow), tuple.elems.iter(), tuple.span()),
        Expr::Paren(paren) => {
            let inner = rewrite(&paren.expr)?;
            Ok(quote!((#inner)))
        }
        Expr::Call(call) => {
            let kind = match &*call.func {
                Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
                _ => None,
            };
            match (kind.as_deref(), call.args.first()) {
                (Some(kind @ ("parallel" | "swallow")), Some(Expr::Tuple(tuple)))
                    if call.args.len() == 1 =>
                {
                    let kind = Ident::new(kind, call.func.span());
                    group(quote!(#kind), tuple.elems.iter(), tuple.span())
                }
                _ => Err(syn::Error::new(call.span(), FORMS)),
            }
        }
        Expr::Block(block) => Ok(quote!(#block)),
        other => Err(syn::Error::new(other.span(), FORMS)),
    }
}

fn group<'a>(
    kind: TokenStream,
    elems: impl Iterator<Item = &'a Expr>,
    span: proc_macro2::Span,
) -> syn::Result<TokenStream> {
    let branches = elems.map(rewrite).collect::<syn::Result<Vec<_>>>()?;
    match branches.len() {
        0 => Err(syn::Error::new(
            span,
            "a parallel group needs at least one branch",
        )),
        n if n > 8 => Err(syn::Error::new(
            span,
            "a parallel group has at most 8 branches; nest groups for more",
        )),
        // Spanned on the group, so a branch mismatch points at the group's own tokens.
        _ => Ok(quote_spanned!(span=> ::orkestra::#kind((#(#branches,)*)))),
    }
}
