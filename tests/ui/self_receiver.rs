use orkestra::{compose, Context};

struct Jobs;

impl Jobs {
    #[compose]
    fn method(&self, _ctx: &Context) -> u8 {
        1
    }
}

fn main() {}
