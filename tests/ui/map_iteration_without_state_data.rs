use orkestra::state_data::MapIteration;
use orkestra::{compose, Context};

#[compose(map)]
async fn read_each(event: MapIteration<String>, _ctx: &Context) -> usize {
    event.items_result_key.len()
}

#[compose(state_data)]
async fn not_a_map(event: MapIteration<String>, _ctx: &Context) -> usize {
    event.items_result_key.len()
}

fn main() {}
