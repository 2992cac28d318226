//! Process-wide memory set-up for programs that run Starling: the global allocator
//! ([`Allocator`], mimalloc called without its aligned entry points when the alignment asked
//! for is one mimalloc's plain blocks already have) and [`disable_transparent_huge_pages`].
//! The `starling` command uses both; a Rust program embedding the runtime can do the same:
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
//! The `mimalloc` crate sends every request through `mi_malloc_aligned`. In mimalloc 3 that
//! function takes its fast path only while the size class's free list is non-empty; when the
//! list must first be refilled (after frees from another worker thread, or a new page) it
//! falls to the generic aligned path, which over-allocates into the next size class and marks
//! the page as holding interior pointers. On the echo request path that was about 3% of all
//! instructions (BENCHMARKS.md, "Evening of 2026-12-07"). Rust values ask for an alignment
//! of 8 or less, which every mimalloc block has, so they go to `mi_malloc`; Luau (through
//! mlua) asks for 16, which blocks whose size is a multiple of 16 have.
//!
//! The only unsafe code of this crate lives here. Invariants:
//! - every pointer handed out came from mimalloc (`mi_malloc`, `mi_zalloc`, `mi_realloc` or
//!   their `_aligned` forms), so `mi_free` and `mi_realloc*` accept it, interior pointers of
//!   aligned blocks included;
//! - a pointer is returned only after checking it has the layout's alignment (the plain
//!   calls are tried first and the aligned calls take over when the check fails), so the
//!   `GlobalAlloc` contract holds even if mimalloc's block layout changes;
//! - sizes passed on are the layout's size, or that size rounded up to 16 (never smaller),
//!   and no arithmetic can overflow: a `Layout` size is at most `isize::MAX`.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

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

/// mimalloc with plain calls for the common alignments (see the module header).
#[derive(Debug)]
pub struct Allocator;

/// The alignment every mimalloc block has (its size classes are multiples of a word).
const WORD: usize = std::mem::size_of::<usize>();

/// The alignment of blocks whose size is a multiple of it (mimalloc starts every page's
/// blocks at this alignment).
const PAIR: usize = 16;

/// The size to ask the plain calls for so that the block can have `align`, or `None` when
/// only the aligned calls can give it.
fn plain_size(size: usize, align: usize) -> Option<usize> {
    if align <= WORD {
        Some(size)
    } else if align == PAIR {
        // A `Layout` size is at most `isize::MAX`, so this cannot overflow.
        Some((size + (PAIR - 1)) & !(PAIR - 1))
    } else {
        None
    }
}

fn aligned(p: *mut c_void, align: usize) -> bool {
    (p as usize) & (align - 1) == 0
}

/// A block for `layout` from `plain` when its alignment allows (see [`plain_size`]) and the
/// block has it, else from `aligned_call`.
///
/// # Safety
/// `plain` and `aligned_call` are one mimalloc allocation function and its `_aligned` form;
/// `layout` is what `GlobalAlloc::alloc` was given.
#[inline(always)]
unsafe fn allocate(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_call: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let align = layout.align();
    if let Some(size) = plain_size(layout.size(), align) {
        // SAFETY: a plain allocation of a valid size; a misaligned block goes back to
        // mimalloc at once.
        unsafe {
            let p = plain(size);
            if aligned(p, align) {
                return p.cast();
            }
            mi::mi_free(p);
        }
    }
    // SAFETY: the aligned call mimalloc's own crate uses.
    unsafe { aligned_call(layout.size(), align).cast() }
}

// SAFETY: every method returns null or a block of at least the layout's size with the
// layout's alignment (checked before returning), and frees only what it handed out (module
// header).
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation call and its aligned form; `layout` is the caller's.
        unsafe { allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`, zeroed.
        unsafe { allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc (module header).
        unsafe { mi::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        if align <= WORD {
            // SAFETY: `ptr` came from mimalloc; any block `mi_realloc` returns is word
            // aligned, which the check confirms before it is handed out.
            unsafe {
                let p = mi::mi_realloc(ptr.cast(), new_size);
                if aligned(p, align) {
                    return p.cast();
                }
                // Only reachable if mimalloc changed its block layout: move the contents to
                // an aligned block (the old block is already gone, its bytes are in `p`).
                let q = mi::mi_malloc_aligned(new_size, align);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), new_size);
                }
                mi::mi_free(p);
                return q.cast();
            }
        }
        // SAFETY: the aligned call mimalloc's own crate uses, on a block from mimalloc.
        unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, align).cast() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates, writes, grows, shrinks and frees blocks of many sizes and alignments
    /// through the allocator, checking the alignment and the contents at every step.
    #[test]
    fn blocks_have_their_alignment_and_keep_their_bytes() {
        let a = Allocator;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 15, 16, 24, 40, 48, 100, 1000, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).expect("layout");
                // SAFETY: a valid non-zero layout; every block is freed with its layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "alloc {size}/{align}");
                    for i in 0..size {
                        *p.add(i) = i as u8;
                    }
                    let bigger = size * 3 + 5;
                    let q = a.realloc(p, layout, bigger);
                    assert_eq!(q as usize % align, 0, "grow {size}/{align}");
                    for i in 0..size {
                        assert_eq!(*q.add(i), i as u8);
                    }
                    let grown = Layout::from_size_align(bigger, align).expect("layout");
                    let r = a.realloc(q, grown, size);
                    assert_eq!(r as usize % align, 0, "shrink {size}/{align}");
                    for i in 0..size {
                        assert_eq!(*r.add(i), i as u8);
                    }
                    a.dealloc(r, layout);

                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed {size}/{align}");
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_can_be_turned_off() {
        assert!(disable_transparent_huge_pages());
        assert_eq!(nix::sys::prctl::get_thp_disable(), Ok(true));
    }

    #[test]
    fn plain_sizes_round_up_for_sixteen_only() {
        assert_eq!(plain_size(24, 8), Some(24));
        assert_eq!(plain_size(24, 16), Some(32));
        assert_eq!(plain_size(32, 16), Some(32));
        assert_eq!(plain_size(24, 32), None);
    }
}
