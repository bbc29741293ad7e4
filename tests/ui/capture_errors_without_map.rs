use orkestra::{compose, Context};

#[compose(capture_errors)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
