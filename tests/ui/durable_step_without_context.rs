use orkestra::durable_step;

#[durable_step]
fn fetch(user_id: String) -> Result<String, String> {
    Ok(user_id)
}

fn main() {}
