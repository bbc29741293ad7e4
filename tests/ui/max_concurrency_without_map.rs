use orkestra::{compose, Context};

#[compose(max_concurrency = 4)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
