//! `starling`: run actor-model applications written as YAML entries and Lua processes.

mod cli;

// Processes allocate small objects constantly (Luau values, messages, payloads); mimalloc's
// thread-local free lists serve them several times faster than the system allocator.
#[global_allocator]
static ALLOC: starling::memory::Allocator = starling::memory::Allocator;

fn main() {
    starling::memory::disable_transparent_huge_pages();
    let code = cli::main();
    std::process::exit(code);
}
