//! What a binary gets when `main` never names the library: nothing registered (its `list` and
//! `run` explain why and name `orkestra::main!`). Kept to test those messages.

fn main() -> std::process::ExitCode {
    orkestra::main()
}
