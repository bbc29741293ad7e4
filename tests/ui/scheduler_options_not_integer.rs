use orkestra::{compose, Context};

#[compose(max_simultaneous_invocations = "ten")]
fn worker(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose(max_attempts = 2.5)]
fn other_worker(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose(max_attempts)]
fn third_worker(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
