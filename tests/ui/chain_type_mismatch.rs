use orkestra::{compose, Context};

#[compose]
fn make_text(n: u8, _ctx: &Context) -> String {
    n.to_string()
}

#[compose]
fn halve(n: f64, _ctx: &Context) -> f64 {
    n / 2.0
}

orkestra::workflow!(mismatched = make_text >> halve);

fn main() {}
