//! Tests of Starling's patches to Luau (vendor/luau0-src/STARLING-PATCHES.md) that need the
//! raw VM: the pattern matcher's interrupt calls (patch 3) and the initial thread sizes
//! (patch 2).
//!
//! The raw functions below follow the module's rules: they raise only with `luaL_error`, hold
//! no Rust value with a destructor when they do, and only touch thread-local counters or the
//! stack slots Luau gives them. Debug builds (these tests) compile Luau with its assertions.

use std::cell::Cell;
use std::os::raw::c_int;
use std::time::Instant;

use mlua::{Lua, ffi};

use super::{begin_slice, end_slice, new_lua, request_kill};

/// The catastrophic pattern of issue 11: minutes of backtracking inside `string.find`.
const CATASTROPHIC: &str = r#"return string.find(("a"):rep(3000), ".-.-.-.-.-.-.-b")"#;

#[derive(Clone, Copy, Default)]
struct Calls {
    /// Interrupt calls with `gc == -1` (VM instructions) and `-2` (inside the matcher).
    vm: u32,
    matcher: u32,
    /// Raise at this many `-2` calls (0: never).
    raise_at: u32,
}

thread_local! {
    static CALLS: Cell<Calls> = Cell::new(Calls::default());
}

/// With upstream's matcher every step is a `-1` call and none is `-2`: give up after this many
/// so the test fails instead of backtracking for minutes.
const GIVE_UP: u32 = 1_000_000;

unsafe extern "C-unwind" fn counting(state: *mut ffi::lua_State, gc: c_int) {
    let mut c = CALLS.with(|c| c.get());
    match gc {
        -1 => c.vm += 1,
        -2 => c.matcher += 1,
        _ => return,
    }
    CALLS.with(|cell| cell.set(c));
    if gc == -2 && c.raise_at > 0 && c.matcher >= c.raise_at {
        // SAFETY: `state` is the running thread; raising from the interrupt is how Luau aborts
        // running code, and no Rust value with a destructor is alive here.
        unsafe { ffi::luaL_error(state, c"stopped by the matcher's interrupt".as_ptr()) };
    }
    if c.vm >= GIVE_UP {
        // SAFETY: as above.
        unsafe { ffi::luaL_error(state, c"only -1 interrupts: the matcher never sent -2".as_ptr()) };
    }
}

/// A VM with the string library and the counting interrupt, raising at the `raise_at`th `-2`.
fn counting_lua(raise_at: u32) -> Lua {
    let lua = Lua::new();
    CALLS.with(|c| {
        c.set(Calls {
            raise_at,
            ..Calls::default()
        })
    });
    // SAFETY: sets the VM-wide interrupt callback on the state mlua hands us.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*ffi::lua_callbacks(state)).interrupt = Some(counting);
        })
        .unwrap();
    }
    lua
}

fn calls() -> Calls {
    CALLS.with(|c| c.get())
}

#[test]
fn catastrophic_pattern_stops_at_the_matchers_interrupt() {
    let lua = counting_lua(3);
    let err = lua.load(CATASTROPHIC).exec().unwrap_err().to_string();
    assert!(
        err.contains("stopped by the matcher's interrupt"),
        "unexpected error: {err}"
    );
    assert_eq!(calls().matcher, 3);
}

#[test]
fn plain_find_and_balance_scans_reach_the_interrupt() {
    // Neither makes many calls of `match`: a plain search is memchr + memcmp, and `%b` scans
    // the rest of the string at each start. Both are quadratic in the subject's length.
    for chunk in [
        r#"return string.find(("a"):rep(100000), ("a"):rep(50000) .. "b", 1, true)"#,
        r#"return string.find(("("):rep(20000), "%b()")"#,
        r#"return string.match(("a"):rep(20000), "[^b]*c")"#,
    ] {
        let lua = counting_lua(3);
        let err = lua.load(chunk).exec().unwrap_err().to_string();
        assert!(
            err.contains("stopped by the matcher's interrupt"),
            "{chunk}: unexpected error: {err}"
        );
    }
}

#[test]
fn an_error_from_the_matchers_interrupt_leaves_the_vm_usable_and_leaks_nothing() {
    let lua = counting_lua(2);
    // gsub builds its result in a buffer on the Lua stack; gmatch keeps its state in upvalues.
    let aborted = [
        CATASTROPHIC,
        r#"return string.gsub(("a"):rep(3000) .. "x", ".-.-.-.-b", "yy")"#,
        r#"for a in string.gmatch(("a"):rep(3000), ".-.-.-.-b") do end"#,
    ];
    let run_all = || {
        for chunk in aborted {
            CALLS.with(|c| {
                c.set(Calls {
                    raise_at: 2,
                    ..Calls::default()
                })
            });
            let err = lua.load(chunk).exec().unwrap_err().to_string();
            assert!(err.contains("stopped by the matcher's interrupt"), "{chunk}: {err}");
        }
    };
    run_all();
    lua.gc_collect().unwrap();
    let before = lua.used_memory();
    for _ in 0..50 {
        run_all();
    }
    lua.gc_collect().unwrap();
    let after = lua.used_memory();
    assert!(
        after <= before + 1024,
        "Lua heap grew from {before} to {after} bytes over 150 aborted matches"
    );
    // Ordinary matching afterwards, with the interrupt still called but not raising.
    CALLS.with(|c| c.set(Calls::default()));
    let (n, first, count): (usize, String, i64) = lua
        .load(
            r#"
            local s = ("key=value; "):rep(2000)
            local n = 0
            for k, v in s:gmatch("(%w+)=(%w+)") do n = n + #k + #v end
            local first = s:match("^(%w+)=")
            local _, count = s:gsub("%s+", "")
            return n, first, count
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!((n, first.as_str(), count), (16000, "key", 2000));
    assert!(calls().matcher > 0, "a long subject calls the interrupt");
}

#[test]
fn starlings_interrupt_ends_a_killed_process_inside_the_matcher() {
    // `kill()` asks the slice to stop (as terminate does) and returns straight into
    // string.find: no VM interrupt point lies between them, so the matcher's -2 call is the
    // first to see the request, and the interrupt must raise there (it cannot yield).
    let lua = new_lua().unwrap();
    let kill = lua
        .create_function(|_, ()| {
            request_kill();
            Ok(())
        })
        .unwrap();
    lua.globals().set("kill", kill).unwrap();
    begin_slice(std::ptr::null(), Instant::now());
    let err = lua
        .load(r#"kill() return string.find(("a"):rep(3000), ".-.-.-.-.-.-.-b")"#)
        .exec()
        .unwrap_err()
        .to_string();
    end_slice();
    assert!(err.contains("process terminated"), "unexpected error: {err}");
}

#[test]
fn small_thread_stacks_hold_deep_frames_and_c_yields() {
    // Patch 2 starts threads with smaller stacks and CallInfo arrays than upstream. Threads
    // that yield from C (at LUA_MINSTACK's reserve), recurse, grow and are collected must
    // behave as before.
    let lua = Lua::new();
    let n: i64 = lua
        .load(
            r#"
            local function deep(n) if n == 0 then return coroutine.yield(0) end return 1 + deep(n - 1) end
            local cos = {}
            for i = 1, 2000 do
                local co = coroutine.create(function(d)
                    local total = 0
                    for _ = 1, 3 do total = total + deep(d) end
                    return total
                end)
                assert(coroutine.resume(co, i % 50))
                cos[i] = co
            end
            local sum = 0
            for round = 1, 3 do
                for i, co in cos do
                    local ok, v = coroutine.resume(co, round)
                    assert(ok, v)
                    if round == 3 then sum = sum + v end
                end
            end
            return sum
            "#,
        )
        .eval()
        .unwrap();
    // Each coroutine's three calls of `deep` return depth + 1, depth + 2 and depth + 3 (the
    // values it was resumed with).
    let expected: i64 = (1..=2000i64).map(|i| 3 * (i % 50) + 6).sum();
    assert_eq!(n, expected);
}
