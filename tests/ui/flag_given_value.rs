use orkestra::{compose, Context};

#[compose(map = true, capture_errors = true)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
