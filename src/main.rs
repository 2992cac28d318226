//! `starling`: run actor-model applications written as YAML entries and Lua processes.

mod cli;

fn main() {
    let code = cli::main();
    std::process::exit(code);
}
