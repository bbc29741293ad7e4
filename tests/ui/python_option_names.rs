use orkestra::{compose, Context};

// Every Python spelling is reported in one compile, each with its Rust spelling.
#[compose(is_map_job = True, capture_map_errors = True, timeout = 30, memory_size = 512)]
fn task(n: u8, _ctx: &Context) -> u8 {
    n
}

fn main() {
    // The function is kept beside the errors: using it adds no error.
    let _ = task(1, &Context::for_tests());
}
