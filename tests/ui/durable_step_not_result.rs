use orkestra::durable::StepContext;
use orkestra::durable_step;

#[durable_step]
fn fetch(_ctx: &StepContext, user_id: String) -> String {
    user_id
}

fn main() {}
