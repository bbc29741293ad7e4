use orkestra::{compose, Context};

#[compose]
fn from_number(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose]
fn from_text(s: String, _ctx: &Context) -> u8 {
    s.len() as u8
}

orkestra::workflow!(branches = [from_number, from_text]);

fn main() {}
