//! `#[compose]`: parse the options and the function, then emit the registration.

mod emit;
mod options;
mod signature;

use proc_macro2::TokenStream;

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = options::parse(args)?;
    let function: syn::ItemFn = syn::parse2(item)?;
    let signature = signature::TaskSignature::check(&function)?;
    Ok(emit::task(&function, &signature, &options))
}
