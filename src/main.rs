//! `starling`: run actor-model applications written as YAML entries and Lua processes.

mod cli;

// mimalloc (see `starling::memory`).
#[global_allocator]
static ALLOC: starling::memory::Allocator = starling::memory::Allocator;

fn main() {
    starling::memory::disable_transparent_huge_pages();
    let code = cli::main();
    std::process::exit(code);
}
