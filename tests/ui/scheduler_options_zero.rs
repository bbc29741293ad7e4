use orkestra::{compose, Context};

#[compose(max_simultaneous_invocations = 0)]
fn worker(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose(max_attempts = 0)]
fn other_worker(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
