use orkestra::{compose, Context};

#[compose]
fn one_number(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose(map)]
fn per_item(n: u8, _ctx: &Context) -> u8 {
    n + 1
}

orkestra::workflow!(not_a_list = one_number >> per_item);

fn main() {}
