use orkestra::{compose, Context};

#[compose]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

orkestra::workflow!(scheduled = task, schedule = "every hour");
orkestra::workflow!(typed = task, kind = "EXPRESS");

fn main() {}
