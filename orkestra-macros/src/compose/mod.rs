//! `#[compose]`: parse the options and the function, then emit the registration.

mod emit;
mod options;
mod signature;

use proc_macro2::TokenStream;

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function: syn::ItemFn = syn::parse2(item)?;
    let checked = options::parse(args).and_then(|options| {
        let signature = signature::TaskSignature::check(&function)?;
        Ok((options, signature))
    });
    match checked {
        Ok((options, signature)) => Ok(emit::task(&function, &signature, &options)),
        // Keep the function so that the one error shown is ours, not a cascade of
        // "cannot find function" errors at every call site.
        Err(error) => {
            let error = error.into_compile_error();
            Ok(quote::quote!(#function #error))
        }
    }
}
