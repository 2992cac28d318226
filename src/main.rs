//! `starling`: run actor-model applications written as YAML entries and Lua processes.

mod alloc;
mod cli;

// Processes allocate small objects constantly (Luau values, messages, payloads); mimalloc's
// thread-local free lists serve them several times faster than the system allocator.
#[global_allocator]
static ALLOC: alloc::Allocator = alloc::Allocator;

fn main() {
    let code = cli::main();
    std::process::exit(code);
}
