use orkestra::compose;

#[compose]
fn no_context(n: u8) -> u8 {
    n
}

fn main() {}
