use orkestra::{compose, Context};

#[compose(map, retries = 3)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
