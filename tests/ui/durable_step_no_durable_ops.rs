use orkestra::durable::StepContext;
use orkestra::durable_step;

#[durable_step]
fn fetch(ctx: &StepContext, user_id: String) -> Result<String, String> {
    let _ = ctx.step(|_s: StepContext| async { Ok::<u8, String>(1) });
    Ok(user_id)
}

fn main() {}
