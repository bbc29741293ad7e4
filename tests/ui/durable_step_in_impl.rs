// `#[durable_step]` belongs on free functions: its body becomes `name::body`, a module, which
// an `impl` block cannot hold. The error points at the attribute.
use orkestra::durable::StepContext;
use orkestra::durable_step;

struct Users;

impl Users {
    #[durable_step]
    fn fetch(_ctx: &StepContext, user_id: String) -> Result<String, String> {
        Ok(user_id)
    }
}

fn main() {}
