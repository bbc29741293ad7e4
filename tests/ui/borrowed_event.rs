use orkestra::{compose, Context};

#[compose]
fn task(text: &str, _ctx: &Context) -> usize {
    text.len()
}

fn main() {}
