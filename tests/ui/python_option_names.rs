use orkestra::{compose, Context};

#[compose(is_map_job = true)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {}
