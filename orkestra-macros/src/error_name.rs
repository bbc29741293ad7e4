//! `#[derive(ErrorName)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, LitStr};

pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let container = override_name(&input.attrs)?;
    let body = match &input.data {
        Data::Enum(data) => {
            let arms = data
                .variants
                .iter()
                .map(|variant| {
                    let name = match override_name(&variant.attrs)? {
                        Some(name) => name,
                        None => match &container {
                            Some(name) => name.clone(),
                            None => LitStr::new(&variant.ident.to_string(), variant.ident.span()),
                        },
                    };
                    let variant = &variant.ident;
                    Ok(quote!(Self::#variant { .. } => ::std::borrow::Cow::Borrowed(#name)))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            if arms.is_empty() {
                quote!(match *self {})
            } else {
                quote!(match self { #(#arms,)* })
            }
        }
        Data::Struct(_) | Data::Union(_) => match &container {
            Some(name) => quote!(::std::borrow::Cow::Borrowed(#name)),
            None => quote!(::std::borrow::Cow::Borrowed(::core::stringify!(#ident))),
        },
    };
    Ok(quote! {
        impl #impl_generics ::orkestra::ErrorName for #ident #type_generics #where_clause {
            fn error_name(&self) -> ::std::borrow::Cow<'static, str> {
                #body
            }
        }
    })
}

/// `#[error_name = "Name"]`.
fn override_name(attrs: &[Attribute]) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    for attr in attrs
        .iter()
        .filter(|attr| attr.path().is_ident("error_name"))
    {
        let value = &attr.meta.require_name_value()?.value;
        match value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(name),
                ..
            }) if !name.value().is_empty() => {
                if found.replace(name.clone()).is_some() {
                    return Err(syn::Error::new_spanned(attr, "`error_name` is given twice"));
                }
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "write the name as a string: `#[error_name = \"MyError\"]`",
                ))
            }
        }
    }
    Ok(found)
}
