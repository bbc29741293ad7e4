// Outside `workflow!`, a bare tuple is not a group: it must not compile, rather than silently
// mean either kind of parallel group.
use orkestra::{compose, Context};

#[compose]
fn first(n: u8, _ctx: &Context) -> u8 {
    n
}

#[compose]
fn second(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {
    let _ = first {} >> (second {}, second {});
}
