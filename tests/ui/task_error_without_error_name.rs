use orkestra::{compose, Context};

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("declined")
    }
}

#[compose]
fn charge(amount: u32, _ctx: &Context) -> Result<u32, Declined> {
    if amount > 100 {
        Err(Declined)
    } else {
        Ok(amount)
    }
}

fn main() {}
