//! Process-wide memory set-up for programs that run Starling: the global allocator
//! ([`Allocator`], mimalloc) and [`disable_transparent_huge_pages`]. The `starling` command
//! uses both; a Rust program embedding the runtime can do the same:
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: starling::memory::Allocator = starling::memory::Allocator;
//!
//! fn main() {
//!     starling::memory::disable_transparent_huge_pages();
//!     // ... starling::Runtime::new() ...
//! }
//! ```
//!
//! Processes allocate small objects constantly (Luau values, messages, payloads); mimalloc's
//! thread-local free lists serve them several times faster than the system allocator.

/// The global allocator the `starling` command uses: mimalloc.
pub use mimalloc::MiMalloc as Allocator;

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`), before
/// the runtime starts its threads. mimalloc asks for huge pages on its large mappings, and
/// with the common kernel setting (`defrag=madvise`) a fault there may stop to compact
/// memory: the spawn shape then ran at half speed in about one run of three, and a Lua
/// worker's base RSS doubled (BENCHMARKS.md, "Evening of 2026-12-07"). Databases that
/// care about latency give the same advice. False when the kernel refused (the process
/// runs on, with huge pages as the system sets them).
pub fn disable_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        nix::sys::prctl::set_thp_disable(true).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_can_be_turned_off() {
        assert!(disable_transparent_huge_pages());
        assert_eq!(nix::sys::prctl::get_thp_disable(), Ok(true));
    }
}
