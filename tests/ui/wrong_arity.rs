use orkestra::{compose, Context};

#[compose]
fn three_params(n: u8, ctx: &Context, extra: u8) -> u8 {
    let _ = (ctx, extra);
    n
}

fn main() {}
