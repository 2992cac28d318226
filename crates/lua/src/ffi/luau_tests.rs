//! Tests of Starling's patches to Luau (vendor/luau0-src/STARLING-PATCHES.md) that need the
//! raw VM: the pattern matcher's interrupt calls (patch 3), the initial thread sizes (patch 2),
//! the trimming of parked threads (patches 4 and 5), the inert-chunk test (patch 6) and the
//! emptying of threads let go of (patch 7); also the encoder's table of walked tables, which
//! lives inside the fence.
//!
//! The raw functions below follow the module's rules: they raise only with `luaL_error`, hold
//! no Rust value with a destructor when they do, and only touch thread-local counters or the
//! stack slots Luau gives them. Debug builds (these tests) compile Luau with its assertions.
//! Luau's push functions grow the stack themselves when a frame's `top` is reached, so the
//! reserve tests below check that values come through intact, not the reserve's size (see
//! patch 4 in STARLING-PATCHES.md).

use std::cell::Cell;
use std::os::raw::c_int;
use std::time::Instant;

use mlua::{Function, Lua, Thread, ffi};

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
        unsafe {
            ffi::luaL_error(
                state,
                c"only -1 interrupts: the matcher never sent -2".as_ptr(),
            )
        };
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
            assert!(
                err.contains("stopped by the matcher's interrupt"),
                "{chunk}: {err}"
            );
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
    begin_slice(None, 1, Instant::now(), std::time::Duration::from_secs(60));
    let err = lua
        .load(r#"kill() return string.find(("a"):rep(3000), ".-.-.-.-.-.-.-b")"#)
        .exec()
        .unwrap_err()
        .to_string();
    end_slice();
    assert!(
        err.contains("process terminated"),
        "unexpected error: {err}"
    );
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

/// Parked threads this many: enough for the heap per thread to show through the VM's own data.
const PARKED: usize = 2000;

/// Heap bytes per parked coroutine after a full collection, for coroutines parked by `park`
/// (Lua code returning a table of them).
fn heap_per_parked(lua: &Lua, park: &str) -> (usize, mlua::Table) {
    lua.gc_collect().unwrap();
    let before = lua.used_memory();
    let cos: mlua::Table = lua.load(park).call(PARKED).unwrap();
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    (lua.used_memory().saturating_sub(before) / PARKED, cos)
}

#[test]
fn threads_parked_in_a_c_yield_are_trimmed_and_resume_intact() {
    let lua = Lua::new();
    // Each coroutine parks three frames deep (base, its function, coroutine.yield) with a
    // local on its stack; upstream keeps about 1,200 bytes for it (thread, 8 CallInfos, the
    // stack with LUA_MINSTACK spare slots above the base and the yield), trimmed it is ~500.
    let (per, cos) = heap_per_parked(
        &lua,
        r#"
        local n = ...
        local cos = table.create(n)
        for i = 1, n do
            local co = coroutine.create(function(x)
                local local_value = x * 2
                local a, b = coroutine.yield()
                local c = coroutine.yield(a + b)
                return local_value + a + b + c
            end)
            assert(coroutine.resume(co, i))
            cos[i] = co
        end
        return cos
        "#,
    );
    assert!(
        per < 800,
        "{per} heap bytes per parked coroutine: parked threads were not trimmed"
    );
    // Resumed with arguments after the trim, through a second park and trim, to the end.
    lua.load(
        r#"
        for i, co in ... do
            local ok, v = coroutine.resume(co, i, 1)
            assert(ok and v == i + 1, v)
        end
        "#,
    )
    .call::<()>(&cos)
    .unwrap();
    lua.gc_collect().unwrap();
    let total: i64 = lua
        .load(
            r#"
            local total = 0
            for _, co in ... do
                local ok, v = coroutine.resume(co, 10)
                assert(ok and coroutine.status(co) == "dead", v)
                total = total + v
            end
            return total
            "#,
        )
        .call(&cos)
        .unwrap();
    // Each returns 2i + i + 1 + 10.
    let n = PARKED as i64;
    assert_eq!(total, (1..=n).map(|i| 3 * i + 11).sum::<i64>());
}

/// A patch's thread function (`lua_trimparked`, patch 5; `lua_dropthread`, patch 7) on `co`'s
/// thread.
fn on_thread(co: &Thread, f: unsafe extern "C-unwind" fn(*mut ffi::lua_State) -> c_int) -> c_int {
    // SAFETY: `co` is a live coroutine of a VM on this thread, not running (nothing runs while
    // the test holds it); both functions check the thread's state themselves and never raise.
    unsafe { f(co.to_pointer() as *mut ffi::lua_State) }
}

/// `lua_trimparked` (patch 5) on `co`'s thread.
fn trim_now(co: &Thread) -> c_int {
    on_thread(co, super::lua_trimparked)
}

#[test]
fn trimparked_trims_a_parked_thread_at_once_and_nothing_else() {
    let lua = Lua::new();
    let make: Function = lua
        .load(
            r#"
            return function()
                return coroutine.create(function(x)
                    local local_value = x * 2
                    local a, b = coroutine.yield()
                    return local_value + a + b
                end)
            end
            "#,
        )
        .eval()
        .unwrap();
    let cos: Vec<Thread> = (0..PARKED).map(|_| make.call(()).unwrap()).collect();
    // Not started: nothing to trim.
    assert_eq!(trim_now(&cos[0]), 0);
    for (i, co) in cos.iter().enumerate() {
        co.resume::<()>(i as i64).unwrap();
    }
    // No collection in between: the bytes freed are the trim's own.
    let before = lua.used_memory();
    assert!(cos.iter().all(|co| trim_now(co) == 1));
    let freed = before.saturating_sub(lua.used_memory()) / PARKED;
    assert!(
        freed > 300,
        "trimming freed {freed} bytes per parked thread"
    );
    // Already trimmed.
    assert_eq!(trim_now(&cos[0]), 0);
    for (i, co) in cos.iter().enumerate() {
        let v: i64 = co.resume((i as i64, 1)).unwrap();
        assert_eq!(v, 3 * i as i64 + 1);
        // Finished: not parked any more.
        assert_eq!(trim_now(co), 0);
    }
}

#[test]
fn trimmed_threads_resume_through_pcall_and_xpcall() {
    let lua = Lua::new();
    let (_, cos) = heap_per_parked(
        &lua,
        r#"
        local n = ...
        local cos = table.create(n)
        for i = 1, n do
            local co = coroutine.create(function()
                local ok, v = pcall(function()
                    local ok2, w = xpcall(coroutine.yield, function(e) return e end, i)
                    assert(ok2)
                    return w + 1
                end)
                assert(ok)
                return v
            end)
            local ok, v = coroutine.resume(co)
            assert(ok and v == i)
            cos[i] = co
        end
        return cos
        "#,
    );
    let total: i64 = lua
        .load(
            r#"
            local total = 0
            for i, co in ... do
                local ok, v = coroutine.resume(co, i)
                assert(ok and v == i + 1, v)
                total = total + v
            end
            return total
            "#,
        )
        .call(cos)
        .unwrap();
    let n = PARKED as i64;
    assert_eq!(total, (1..=n).map(|i| i + 1).sum::<i64>());
}

#[test]
fn resume_error_reaches_a_pcall_under_a_trimmed_yield() {
    let lua = Lua::new();
    let co: Thread = lua
        .load(
            r#"
            local co = coroutine.create(function()
                local ok, e = pcall(coroutine.yield)
                return ok, e
            end)
            assert(coroutine.resume(co))
            return co
            "#,
        )
        .eval()
        .unwrap();
    lua.gc_collect().unwrap();
    let (ok, e): (bool, String) = co.resume_error("boom").unwrap();
    assert!(!ok);
    assert!(e.contains("boom"), "{e}");
}

/// Pushes LUA_MINSTACK values without `lua_checkstack`, as a C function may.
unsafe fn push_reserve(state: *mut ffi::lua_State) -> c_int {
    for i in 0..ffi::LUA_MINSTACK {
        // SAFETY: the caller's frame has LUA_MINSTACK free slots (Luau would grow it anyway).
        unsafe { ffi::lua_pushinteger(state, i as ffi::lua_Integer) };
    }
    ffi::LUA_MINSTACK
}

unsafe extern "C-unwind" fn yield_with_continuation(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: a C function of this VM, yielding nothing.
    unsafe { ffi::lua_yield(state, 0) }
}

unsafe extern "C-unwind" fn continuation(state: *mut ffi::lua_State, _status: c_int) -> c_int {
    // SAFETY: the continuation runs in the yielded function's frame, whose reserve untrim gave
    // back.
    unsafe { push_reserve(state) }
}

#[test]
fn a_continuation_after_a_trim_has_its_c_reserve() {
    let lua = Lua::new();
    // SAFETY: pushes one C closure with a continuation onto the stack mlua hands us.
    let yieldk: Function = unsafe {
        lua.exec_raw((), |state| {
            ffi::lua_pushcclosurek(
                state,
                yield_with_continuation,
                c"yieldk".as_ptr(),
                0,
                Some(continuation),
            );
        })
    }
    .unwrap();
    let co: Thread = lua
        .load(
            r##"
            local yieldk = ...
            local co = coroutine.create(function()
                return select("#", yieldk())
            end)
            assert(coroutine.resume(co))
            return co
            "##,
        )
        .call(yieldk)
        .unwrap();
    lua.gc_collect().unwrap();
    let n: i64 = co.resume(()).unwrap();
    assert_eq!(n, ffi::LUA_MINSTACK as i64);
}

#[test]
fn a_trimmed_thread_that_finishes_has_its_base_reserve() {
    let lua = Lua::new();
    let co: Thread = lua
        .load(
            r#"
            local co = coroutine.create(function() return coroutine.yield() end)
            assert(coroutine.resume(co))
            return co
            "#,
        )
        .eval()
        .unwrap();
    lua.gc_collect().unwrap();
    co.resume::<()>(()).unwrap();
    assert_eq!(co.status(), mlua::thread::ThreadStatus::Finished);
    let state = co.to_pointer() as *mut ffi::lua_State;
    // SAFETY: the thread is alive (held by `co`) and finished, its stack empty: the API lets a
    // caller push LUA_MINSTACK values on it; they are popped at once.
    unsafe {
        assert_eq!(ffi::lua_gettop(state), 0);
        push_reserve(state);
        ffi::lua_settop(state, 0);
    }
}

#[test]
fn a_trimmed_thread_can_be_closed_and_its_upvalues_survive() {
    // coroutine.close resets the thread (lua_resetthread), which must cope with a stack the
    // GC cut below the base frame's reserve; a closure that captured a local of the parked
    // function keeps the value after the close.
    let lua = Lua::new();
    let (_, cos) = heap_per_parked(
        &lua,
        r#"
        local n = ...
        local cos = table.create(n)
        for i = 1, n do
            local co = coroutine.create(function()
                local captured = i * 3
                coroutine.yield(function() return captured end)
            end)
            local ok, getter = coroutine.resume(co)
            assert(ok)
            cos[i] = { co = co, getter = getter }
        end
        return cos
        "#,
    );
    let total: i64 = lua
        .load(
            r#"
            local total = 0
            for _, e in ... do
                assert(coroutine.close(e.co))
                assert(coroutine.status(e.co) == "dead")
                total = total + e.getter()
            end
            return total
            "#,
        )
        .call(cos)
        .unwrap();
    let n = PARKED as i64;
    assert_eq!(total, (1..=n).map(|i| 3 * i).sum::<i64>());
}

#[test]
fn inert_chunks_are_told_from_chunks_that_can_act() {
    let lua = new_lua().unwrap();
    let inert = [
        "",
        "return function() end",
        // A call inside a function the chunk makes is not the chunk's own.
        "local function f() print('x') end\nreturn { f = f }",
        "local N = 10\nlocal t = { a = 1, b = { 2, 3 } }\nt.c = N * 2 .. 'x'\nfor i = 1, 3 do t[i] = -i end\nreturn t, #t.b",
        "local M = {}\nfunction M.run() return helper() end\nfunction M:m() return self end\nreturn M",
        "local a, b = ...\nif a then b = 1 else b = 2 end\nreturn { a = a, b = b }",
    ];
    let active = [
        "print('loaded')\nreturn {}",
        "local up = string.upper\nreturn { f = function() return up end }",
        "count = 0\nreturn {}",
        "local x = count\nreturn {}",
        "local t = setmetatable({}, {})\nreturn t",
        "local s = ('x'):rep(3)\nreturn {}",
        "for k in pairs({}) do end\nreturn {}",
        "local t = {}\nfor k, v in t do end\nreturn t",
    ];
    for src in inert {
        let f: Function = lua.load(src).into_function().unwrap();
        assert!(super::chunk_is_inert(&lua, &f).unwrap(), "inert: {src}");
    }
    for src in active {
        let f: Function = lua.load(src).into_function().unwrap();
        assert!(!super::chunk_is_inert(&lua, &f).unwrap(), "can act: {src}");
    }
    // A closure with an upvalue, and a C function, are never inert chunks.
    let with_upvalue: Function = lua
        .load("local n = 0\nreturn function() n = n + 1 end")
        .eval()
        .unwrap();
    assert!(!super::chunk_is_inert(&lua, &with_upvalue).unwrap());
    let c: Function = lua
        .globals()
        .get::<mlua::Table>("string")
        .unwrap()
        .get("upper")
        .unwrap();
    assert!(!super::chunk_is_inert(&lua, &c).unwrap());
}

#[test]
fn seen_tables_are_found_in_place_and_past_it() {
    let mut seen = super::Seen::default();
    let addr = |i: usize| (0x1000 + i * 64) as *const std::ffi::c_void;
    for i in 0..20 {
        assert_eq!(seen.get(addr(i)), None, "table {i} before its walk");
        seen.insert(addr(i), i as u32);
    }
    for i in 0..20 {
        assert_eq!(seen.get(addr(i)), Some(i as u32), "table {i}");
    }
    assert_eq!(seen.get(addr(20)), None);
}

/// `lua_dropthread` (patch 7) on `co`'s thread.
fn drop_now(co: &Thread) -> c_int {
    on_thread(co, super::lua_dropthread)
}

#[test]
fn dropped_threads_free_their_stacks_at_once_and_stay_dead() {
    let lua = Lua::new();
    let make: Function = lua
        .load(
            r#"
            return function(kind)
                local co = coroutine.create(function(x)
                    local captured = { x }
                    local inner = function() return captured[1] end
                    if kind == "error" then
                        error("boom")
                    end
                    if kind == "park" then
                        coroutine.yield(inner())
                    end
                    -- deep enough to grow the stack and the CallInfo array
                    local function deep(n) if n == 0 then return inner() end return deep(n - 1) + 0 end
                    return deep(40)
                end)
                return co
            end
            "#,
        )
        .eval()
        .unwrap();
    let mut cos = Vec::new();
    for (i, kind) in ["done", "error", "park"]
        .iter()
        .cycle()
        .take(300)
        .enumerate()
    {
        let co: Thread = make.call(*kind).unwrap();
        let r = co.resume::<mlua::Value>(i as i64);
        assert_eq!(r.is_err(), *kind == "error", "{kind}");
        cos.push(co);
    }
    let before = lua.used_memory();
    assert!(cos.iter().all(|co| drop_now(co) == 1));
    let freed = before.saturating_sub(lua.used_memory()) / cos.len();
    assert!(freed > 200, "dropping freed {freed} bytes per thread");
    let status: Function = lua.load("return coroutine.status").eval().unwrap();
    let resume: Function = lua.load("return coroutine.resume").eval().unwrap();
    for co in &cos {
        assert_eq!(status.call::<String>(co).unwrap(), "dead");
        let (ok, msg): (bool, String) = resume.call(co).unwrap();
        assert!(!ok && msg.contains("dead"), "{msg}");
    }
    // The collector walks and frees them as any other thread.
    lua.gc_collect().unwrap();
    drop(cos);
    lua.gc_collect().unwrap();
    let v: i64 = lua.load("return 1 + 1").eval().unwrap();
    assert_eq!(v, 2);
}

/// The kinds' strings kept per VM are the values scripts compare against.
#[test]
fn event_kind_strings_match_the_constants() {
    use starling_core::EventKind;
    for kind in [EventKind::Exit, EventKind::LinkDown, EventKind::Cancel] {
        let s = super::EVENT_STRINGS[super::kind_string(kind)];
        assert_eq!(s.to_str(), Ok(kind.as_str()));
    }
}
