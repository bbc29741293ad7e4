use orkestra::{compose, Context};

#[compose]
fn generic<T: serde::Serialize>(n: T, _ctx: &Context) -> T {
    n
}

fn main() {}
