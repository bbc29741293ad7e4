//! `#[compose]`: parse the options and the function, then emit the registration.

mod emit;
mod options;
mod signature;

use proc_macro2::TokenStream;

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function: syn::ItemFn = syn::parse2(item)?;
    // Every mistake in the options and the signature, in one compile.
    let (options, signature) = match (
        options::parse(args),
        signature::TaskSignature::check(&function),
    ) {
        (Ok(options), Ok(signature)) => (options, signature),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            return Err(first);
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    Ok(emit::task(&function, &signature, &options))
}
