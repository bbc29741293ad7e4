use orkestra::{compose, Context};

#[compose(retry(max_attempts = 2, backoff_rate = 0.5))]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
