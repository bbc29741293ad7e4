use orkestra::{compose, Context, ErrorName};

#[derive(Debug, ErrorName)]
struct Declined;

#[compose]
fn charge(amount: u32, _ctx: &Context) -> Result<u32, Declined> {
    if amount > 100 {
        Err(Declined)
    } else {
        Ok(amount)
    }
}

#[compose]
fn receipt(amount: u32, _ctx: &Context) -> String {
    format!("charged {amount}")
}

orkestra::workflow!(pay = charge >> receipt);

fn main() {}
