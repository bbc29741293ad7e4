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
    check_map_iteration(&options, &signature)?;
    Ok(emit::task(&function, &signature, &options))
}

/// A `MapIteration<T>` event is the item of a map over a `put_items` pointer, read from state
/// data: the task must be `map` and `state_data`.
fn check_map_iteration(
    options: &options::Options,
    signature: &signature::TaskSignature,
) -> syn::Result<()> {
    if emit::map_iteration_item(&signature.input).is_none() {
        return Ok(());
    }
    let message = match (options.map.is_some(), options.state_data.is_some()) {
        (true, true) => return Ok(()),
        (false, _) => "`MapIteration<T>` is the item of a map over a `put_items` pointer: write `#[compose(map, state_data)]`",
        (true, false) => "a map over a `put_items` pointer reads its item from state data: add the flag, `#[compose(map, state_data)]`",
    };
    Err(syn::Error::new_spanned(&signature.input, message))
}
