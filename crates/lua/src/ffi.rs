//! The one module with `unsafe` code: a small, safe facade over the raw Luau C API for the
//! engine's hot paths (send, receive, select, messages, resumes), plus the VM hooks mlua does
//! not expose (the interrupt, safe environments, memory categories, userdata tags).
//!
//! Its test submodule (`luau_tests` at the end of this file, the Luau patch tests that need raw
//! calls) is part of the fence: the same invariants hold there, with a `// SAFETY:` comment on
//! every block.
//! Everything else in the crate is safe and reaches Luau either through mlua or through the
//! types here. mlua's generic callbacks cost a handle per argument and a `catch_unwind` plus
//! several allocations per call; a raw C function here reads its arguments in place, and a
//! process parked in a wait holds no mlua handle at all.
//!
//! # Invariants
//! 1. One VM per worker thread, and every `lua_State` handled here belongs to the VM of the
//!    calling thread: the running thread of a C function (`Stack`), a task thread the engine
//!    owns (kept alive by a registry reference for as long as the task exists), or the
//!    per-VM scratch thread made by [`new_lua`].
//! 2. Lua errors are C++ exceptions (Luau is built without `LUA_USE_LONGJMP`) that unwind
//!    through `extern "C-unwind"` frames, running Rust destructors. No `catch_unwind` frame
//!    may ever be between a raising Luau call and the Luau frame that catches it (it would
//!    abort the process): every C function runs its Rust logic inside `catch_unwind` with
//!    only non-raising Luau calls ([`Stack`] reads, and pushes of existing values within the
//!    `LUA_MINSTACK` slots every C function is guaranteed), then, outside it, performs the
//!    pushes that may raise (strings, tables, userdata: out of memory) and raises errors.
//! 3. Rust panics never cross into Luau: bodies run inside `catch_unwind` and a panic
//!    becomes a Lua error after its payload is dropped. Code that runs between a protected
//!    Luau call and its callback (`protect`, the write phase, destructors) is panic-free by
//!    construction: no indexing, no `unwrap`, no `RefCell` borrows.
//! 4. Stack discipline: a body pushes at most a few values (within `LUA_MINSTACK`); the write phase checks
//!    the stack before building anything larger; the scratch thread's stack is grown once at
//!    VM creation and the encoder never uses more than that.
//! 5. Userdata tags [`TAG_CHAN`] to [`TAG_DURATION`] (see [`is_ours`]) are Starling's (mlua
//!    uses tags 0 and 1). A tagged userdata holds a Rust value written in place at creation and
//!    dropped by the tag's destructor; destructors only drop Rust values and never call Luau.
//! 6. The interrupt replaces `lua_callbacks(L)->interrupt` directly, so nobody may call
//!    mlua's `Lua::set_interrupt` on these VMs.
//! 7. A [`StackArgs`] names slots of the stack of a C function that is still running: it
//!    borrows that function's [`Stack`], so it cannot outlive the frame, and nothing pops
//!    the slots while it exists (popping takes `&mut Stack`).

#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::os::raw::{c_char, c_int};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Lua, LuaOptions, StdLib, ffi};
use rustc_hash::FxHashMap;
use starling_core::flat::{Flat, Token};
use starling_core::{ErrorValue, MAX_ERROR_DEPTH, MessageBody as MsgBody, Payload, Table, Value};

use crate::rt::values::{
    EventTable, LuaDuration, LuaTime, MsgData, PayloadData, PidStrings, PidText, TAG_CHAN,
    TAG_DURATION, Tagged,
};

/// A raw Luau thread.
type State = *mut ffi::lua_State;

// STARLING-PATCHES.md, patch 5: Starling's addition to the vendored Luau C API (lgc.cpp).
unsafe extern "C-unwind" {
    fn lua_trimparked(l: State) -> c_int;
}

// STARLING-PATCHES.md, patch 6: whether a chunk's own code can only make values (lapi.cpp).
unsafe extern "C-unwind" {
    fn lua_isinertchunk(l: State, idx: c_int) -> c_int;
}

// STARLING-PATCHES.md, patch 7: empties a thread the engine lets go of (lstate.cpp).
unsafe extern "C-unwind" {
    fn lua_dropthread(l: State) -> c_int;
}

/// An entry's method cache (see [`make_process`]) once the entry is known not to qualify.
pub(crate) const NOT_CACHEABLE: c_int = -2;

/// Stack slots of the scratch thread the encoder walks tables on.
const SCRATCH_SLOTS: c_int = 3 * 1024;

/// Marker a blocking primitive yields with (the prelude forwards it out of user coroutines).
pub(crate) const PENDING: *mut c_void = std::ptr::without_provenance_mut(1);

/// Marks, at stack slot 1 of a C function, that it handed its call to its fallback: a
/// blocking function's fallback may yield (its continuation makes the call yieldable), and
/// the continuation then returns the fallback's results instead of running its answer body.
/// Lua code cannot make light userdata, so no argument can look like it.
const FELL_BACK: *mut c_void = std::ptr::without_provenance_mut(2);

thread_local! {
    /// The registry reference of the scratch thread and its state, per VM (invariant 1).
    static SCRATCH: Cell<State> = const { Cell::new(std::ptr::null_mut()) };
    /// Registry reference of the function that makes error objects (see [`ErrorMaker`]).
    static ERROR_MAKER: Cell<c_int> = const { Cell::new(ffi::LUA_NOREF) };
    /// The error object [`ERROR_MAKER`] wraps next.
    static ERROR_HANDOFF: RefCell<Option<ErrorValue>> = const { RefCell::new(None) };
    /// Registry reference of the function that copies values into a payload the slow way
    /// (see [`set_payload_maker`]), and the payload it hands back.
    static PAYLOAD_MAKER: Cell<c_int> = const { Cell::new(ffi::LUA_NOREF) };
    static PAYLOAD_HANDOFF: RefCell<Option<Payload>> = const { RefCell::new(None) };
    /// Registry references dropped during a garbage collection, released after it.
    static DEFERRED_UNREFS: RefCell<Vec<c_int>> = const { RefCell::new(Vec::new()) };
    /// The main thread of this thread's VM.
    static MAIN: Cell<State> = const { Cell::new(std::ptr::null_mut()) };
    /// Registry reference of the C function [`make_process`] calls, made once per VM (a fresh
    /// closure per spawn was garbage the collector had to find).
    static MAKER: Cell<c_int> = const { Cell::new(ffi::LUA_NOREF) };
    /// Registry references of the event tables' key and kind strings ([`EVENT_STRINGS`]),
    /// made once per VM.
    static EVENT_KEYS: Cell<[c_int; EVENT_STRINGS.len()]> =
        const { Cell::new([ffi::LUA_NOREF; EVENT_STRINGS.len()]) };
}

// ---------------------------------------------------------------------------------------------
// The stack facade
// ---------------------------------------------------------------------------------------------

/// The type of a stack value, as Lua's `type()` sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No value at that index.
    None,
    /// `nil`.
    Nil,
    /// A boolean.
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// A table.
    Table,
    /// A function.
    Function,
    /// A userdata (full or light).
    Userdata,
    /// A thread.
    Thread,
    /// Anything else (vectors, buffers).
    Other,
}

impl Kind {
    /// The name Lua's `type()` gives.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::None => "no value",
            Kind::Nil => "nil",
            Kind::Boolean => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Table => "table",
            Kind::Function => "function",
            Kind::Userdata => "userdata",
            Kind::Thread => "thread",
            Kind::Other => "userdata",
        }
    }
}

fn kind_of(t: c_int) -> Kind {
    match t {
        ffi::LUA_TNONE => Kind::None,
        ffi::LUA_TNIL => Kind::Nil,
        ffi::LUA_TBOOLEAN => Kind::Boolean,
        ffi::LUA_TNUMBER | ffi::LUA_TINTEGER => Kind::Number,
        ffi::LUA_TSTRING => Kind::String,
        ffi::LUA_TTABLE => Kind::Table,
        ffi::LUA_TFUNCTION => Kind::Function,
        ffi::LUA_TUSERDATA | ffi::LUA_TLIGHTUSERDATA => Kind::Userdata,
        ffi::LUA_TTHREAD => Kind::Thread,
        _ => Kind::Other,
    }
}

/// The stack of the Luau thread running a C function (or of a task thread the engine owns).
///
/// Reads never raise. Borrowed strings and userdata stay valid while the value is on the
/// stack, which the borrow checker guarantees: everything that pops takes `&mut self`.
pub(crate) struct Stack {
    l: State,
}

impl Stack {
    /// Number of values on the stack.
    pub(crate) fn top(&self) -> c_int {
        // SAFETY: `l` is a live thread of this VM (invariant 1).
        unsafe { ffi::lua_gettop(self.l) }
    }

    /// The type of the value at `i`.
    pub(crate) fn kind(&self, i: c_int) -> Kind {
        // SAFETY: as above; `lua_type` accepts any index and reports LUA_TNONE past the top.
        kind_of(unsafe { ffi::lua_type(self.l, i) })
    }

    /// The bytes of the string at `i` (no number coercion).
    pub(crate) fn bytes(&self, i: c_int) -> Option<&[u8]> {
        if self.kind(i) != Kind::String {
            return None;
        }
        let mut len = 0usize;
        // SAFETY: the value is a string, so `lua_tolstring` does not convert (no allocation)
        // and returns its bytes, which live as long as the value stays on the stack.
        unsafe {
            let p = ffi::lua_tolstring(self.l, i, &mut len);
            if p.is_null() {
                return None;
            }
            Some(std::slice::from_raw_parts(p as *const u8, len))
        }
    }

    /// The number at `i` (no string coercion).
    pub(crate) fn number(&self, i: c_int) -> Option<f64> {
        if self.kind(i) != Kind::Number {
            return None;
        }
        // SAFETY: the value is a number, so `lua_tonumberx` only reads it.
        Some(unsafe { ffi::lua_tonumberx(self.l, i, std::ptr::null_mut()) })
    }

    /// The truth of the value at `i`.
    pub(crate) fn truthy(&self, i: c_int) -> bool {
        // SAFETY: reads the value at a valid or absent index.
        unsafe { ffi::lua_toboolean(self.l, i) != 0 }
    }

    /// The Rust value of the tagged userdata at `i`.
    pub(crate) fn udata<T: Tagged>(&self, i: c_int) -> Option<&T> {
        // SAFETY: a userdata with tag `T::TAG` was made by `push_udata::<T>`, which wrote a
        // `T` in place (invariant 5); it lives while the value is on the stack.
        unsafe {
            let p = ffi::lua_touserdatatagged(self.l, i, T::TAG) as *const T;
            p.as_ref()
        }
    }

    /// Length of the table or string at `i` (`#`, raw).
    pub(crate) fn len(&self, i: c_int) -> usize {
        // SAFETY: `lua_objlen` is raw and never raises.
        unsafe { ffi::lua_objlen(self.l, i) }
    }

    /// Pushes `t[n]` (raw) for the table at `t`; returns its kind. Uses one body slot.
    pub(crate) fn geti(&mut self, t: c_int, n: c_int) -> Kind {
        // SAFETY: `t` is checked to be a table; a raw get pushes an existing value and never
        // allocates within the guaranteed slots (invariant 4).
        unsafe {
            if ffi::lua_type(self.l, t) != ffi::LUA_TTABLE {
                ffi::lua_pushnil(self.l);
                return Kind::Nil;
            }
            kind_of(ffi::lua_rawgeti_(self.l, t, n))
        }
    }

    /// Pushes `t[k]` (raw) for the table at `t` and the key held by registry reference `k`
    /// (no string interning, so no allocation). Uses two body slots, leaves one.
    pub(crate) fn get_by_ref_key(&mut self, t: c_int, k: c_int) -> Kind {
        // SAFETY: pushes the key (an existing registry value) and replaces it with the raw
        // lookup's result; neither allocates within the body slots.
        unsafe {
            let t = ffi::lua_absindex(self.l, t);
            if ffi::lua_type(self.l, t) != ffi::LUA_TTABLE {
                ffi::lua_pushnil(self.l);
                return Kind::Nil;
            }
            ffi::lua_rawgeti_(self.l, ffi::LUA_REGISTRYINDEX, k);
            kind_of(ffi::lua_rawget(self.l, t))
        }
    }

    /// Pushes nil. Uses one body slot.
    pub(crate) fn push_nil(&mut self) {
        // SAFETY: nil is not allocated.
        unsafe { ffi::lua_pushnil(self.l) }
    }

    /// Pops `n` values.
    pub(crate) fn pop(&mut self, n: c_int) {
        // SAFETY: callers pop only what they pushed.
        unsafe { ffi::lua_settop(self.l, -n - 1) }
    }

    /// The identity of the value at `i` (null for a value that is not an object).
    pub(crate) fn pointer(&self, i: c_int) -> *const c_void {
        // SAFETY: reads a value's address.
        unsafe { ffi::lua_topointer(self.l, i) }
    }

    /// The metatable identity of the value at `i` (null when it has none).
    pub(crate) fn metatable_id(&mut self, i: c_int) -> *const c_void {
        // SAFETY: pushes the metatable (an existing value) and pops it again.
        unsafe {
            if ffi::lua_getmetatable(self.l, i) == 0 {
                return std::ptr::null();
            }
            let p = ffi::lua_topointer(self.l, -1);
            ffi::lua_settop(self.l, -2);
            p
        }
    }

    /// Encodes the values at `from..=to` into a payload, or `None` when one needs the slow
    /// path (an error object, or tables nested too deeply for the scratch stack).
    pub(crate) fn encode(&mut self, from: c_int, to: c_int) -> Option<Payload> {
        encode(self.l, from, to)
    }

    /// True when each value at `from..=to` is nil, a boolean, a number or a string: values a
    /// payload would carry unchanged (strings are immutable, so sharing one is copying it),
    /// which [`Stack::args`] may then hand to a new process of this VM as they are. A table
    /// must be copied, so it takes the payload.
    pub(crate) fn are_scalars(&self, from: c_int, to: c_int) -> bool {
        (from..=to).all(|i| {
            // SAFETY: reads a type; `l` is a live thread of this VM (invariant 1).
            let t = unsafe { ffi::lua_type(self.l, i) };
            matches!(
                t,
                ffi::LUA_TNIL | ffi::LUA_TBOOLEAN | ffi::LUA_TNUMBER | ffi::LUA_TSTRING
            )
        })
    }

    /// The values at `from..=to` as the arguments of a process made on this VM while this C
    /// function runs (checked with [`Stack::are_scalars`]).
    pub(crate) fn args(&self, from: c_int, to: c_int) -> StackArgs<'_> {
        StackArgs {
            l: self.l,
            from,
            to,
            _stack: std::marker::PhantomData,
        }
    }
}

/// Spawn arguments read in place from the stack of the C function making the process (see
/// [`Stack::args`]); they live as long as the borrow of that stack.
#[derive(Copy, Clone)]
pub(crate) struct StackArgs<'a> {
    l: State,
    from: c_int,
    to: c_int,
    _stack: std::marker::PhantomData<&'a Stack>,
}

impl StackArgs<'_> {
    /// The arguments as a payload (for a process whose start needs one).
    pub(crate) fn encode(&self) -> Option<Payload> {
        encode(self.l, self.from, self.to)
    }
}

/// Where [`make_process`] takes the main function's arguments from.
#[derive(Copy, Clone)]
pub(crate) enum Args<'a> {
    /// Decoded from a payload.
    Payload(&'a Payload),
    /// Copied from the spawning C function's stack.
    Stack(StackArgs<'a>),
}

// ---------------------------------------------------------------------------------------------
// C functions: bodies, outcomes and the write phase
// ---------------------------------------------------------------------------------------------

/// One result value to push in the write phase.
#[derive(Debug)]
pub(crate) enum Item {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string (short ones in place).
    Str(starling_core::ByteStr),
    /// A printed pid, kept in the pid string cache once pushed.
    PidStr(starling_core::ByteStr, Rc<PidStrings>, starling_core::Pid),
    /// A value the body left on the stack at this index.
    At(c_int),
    /// A registry value (a cached string, a case table).
    Ref(c_int),
    /// A new tagged userdata holding a message.
    Message(MsgData),
    /// The topic of the message userdata at this stack index.
    MsgTopic(c_int),
    /// An array of payload objects, one per value of the payload.
    PayloadArray(Rc<MsgBody>),
    /// A new tagged userdata holding a payload.
    Payload(PayloadData),
    /// A new tagged userdata holding a Time.
    Time(LuaTime),
    /// A new tagged userdata holding a Duration.
    Duration(LuaDuration),
    /// The value at `index` of a payload, as Lua values.
    Decode(Rc<MsgBody>, u32),
    /// Every value of a payload: nothing, one value, or an array of the values.
    DecodeAll(MsgBody),
    /// An event table (SPEC §5.4).
    Event(Box<EventTable>),
    /// An error object.
    Error(ErrorValue),
    /// `store[key]`, taken out of a channel store (the slot is cleared).
    Stored(c_int, c_int),
    /// A new select case: `{channel, send?, value}` with the case metatable (a registry
    /// reference), frozen; `chan` and `value` are stack indices.
    Case {
        meta: c_int,
        chan: c_int,
        value: Option<c_int>,
    },
}

/// What a C function does once its body ran.
#[derive(Debug)]
pub(crate) enum Out {
    /// Return one value (no vector for the common case).
    One(Item),
    /// Return two values.
    Two(Item, Item),
    /// Return three values (a select's case, value and flag).
    Three(Item, Item, Item),
    /// Return the `n` values the body pushed.
    Pushed(c_int),
    /// Wait: yield PENDING; the function's continuation answers when the wait completes.
    Block,
    /// Raise this error message.
    Raise(String),
    /// Let the slow path (the function's mlua twin) handle this call.
    Fallback,
}

/// The Rust half of a C function.
pub(crate) type Body = fn(&mut Stack) -> Out;

/// A C function's body, as a type: each gets its own trampoline (no upvalue to read per call).
pub(crate) trait RawFn {
    /// The body.
    fn body(s: &mut Stack) -> Out;
}

/// Creates a C function running `F::body`. `fallback` (an mlua function taking the same
/// arguments) handles what the body hands back with [`Out::Fallback`].
pub(crate) fn c_function<F: RawFn>(
    lua: &Lua,
    name: &'static std::ffi::CStr,
    fallback: Option<&mlua::Function>,
) -> mlua::Result<mlua::Function> {
    make_closure(lua, name, fallback, trampoline::<F>, None)
}

/// Like [`c_function`], for a body that may return [`Out::Block`]: when the wait completes,
/// the function's continuation runs `A::body` on the task's thread and returns its values.
pub(crate) fn c_function_blocking<F: RawFn, A: RawFn>(
    lua: &Lua,
    name: &'static std::ffi::CStr,
    fallback: Option<&mlua::Function>,
) -> mlua::Result<mlua::Function> {
    make_closure(
        lua,
        name,
        fallback,
        trampoline::<F>,
        Some(continuation::<A>),
    )
}

fn make_closure(
    lua: &Lua,
    name: &'static std::ffi::CStr,
    fallback: Option<&mlua::Function>,
    f: ffi::lua_CFunction,
    cont: Option<ffi::lua_Continuation>,
) -> mlua::Result<mlua::Function> {
    let fallback = fallback.cloned();
    // SAFETY: pushes the closure's one upvalue (the fallback, or nil) and the closure on the
    // state mlua hands us, inside its protected call; the closure is what `exec_raw` returns.
    unsafe {
        lua.exec_raw::<mlua::Function>(fallback, |l| {
            if ffi::lua_gettop(l) == 0 {
                ffi::lua_pushnil(l);
            }
            ffi::lua_pushcclosurek(l, f, name.as_ptr(), 1, cont);
        })
    }
}

/// Entry of a C function made by [`c_function`].
unsafe extern "C-unwind" fn trampoline<F: RawFn>(l: State) -> c_int {
    // SAFETY: `l` is the running thread; see `run`.
    unsafe { run(l, F::body) }
}

/// Continuation of a C function that blocked: runs its answer body.
unsafe extern "C-unwind" fn continuation<A: RawFn>(l: State, _status: c_int) -> c_int {
    // SAFETY: `l` is the running thread again, resumed by the scheduler; slot 1 exists when
    // the function fell back (the marker) and is only read otherwise.
    unsafe {
        if ffi::lua_gettop(l) >= 1 && ffi::lua_tolightuserdata(l, 1) == FELL_BACK {
            // The fallback yielded inside its call and has now returned: its results are
            // everything above the marker.
            return ffi::lua_gettop(l) - 1;
        }
        run(l, A::body)
    }
}

/// Runs `body` for the C function running on `l`, then the write phase.
///
/// # Safety
/// `l` is the running thread of a C function made by [`c_function`].
unsafe fn run(l: State, body: Body) -> c_int {
    let nargs = {
        // SAFETY: `l` is valid.
        unsafe { ffi::lua_gettop(l) }
    };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut stack = Stack { l };
        body(&mut stack)
    }));
    let out = match out {
        Ok(out) => out,
        Err(panic) => {
            let e = starling_core::panic_error(panic.as_ref());
            drop(panic);
            Out::Raise(e.message)
        }
    };
    // SAFETY: outside `catch_unwind`; `l` is still the running thread (invariant 2).
    unsafe { write(l, nargs, out) }
}

/// The write phase: pushes the outcome's values, raises, blocks or falls back.
///
/// # Safety
/// `l` is the running thread of a C function with `nargs` arguments; no `catch_unwind` frame
/// is between here and Luau.
unsafe fn write(l: State, nargs: c_int, out: Out) -> c_int {
    // SAFETY: pushes may raise (out of memory), which unwinds through this
    // frame and drops what `out` still owns (invariant 2).
    unsafe {
        match out {
            Out::Pushed(n) => n,
            Out::One(a) => {
                push_item(l, a);
                1
            }
            Out::Two(a, b) => {
                push_item(l, a);
                push_item(l, b);
                2
            }
            Out::Three(a, b, c) => {
                push_item(l, a);
                push_item(l, b);
                push_item(l, c);
                3
            }
            Out::Block => {
                ffi::lua_pushlightuserdata(l, PENDING);
                ffi::lua_yield(l, 1)
            }
            Out::Raise(msg) => {
                ffi::lua_pushlstring_(l, msg.as_ptr() as *const c_char, msg.len());
                drop(msg);
                ffi::lua_error(l)
            }
            Out::Fallback => {
                ffi::lua_settop(l, nargs);
                ffi::lua_checkstack(l, 2);
                ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
                ffi::lua_insert(l, 1);
                ffi::lua_pushlightuserdata(l, FELL_BACK);
                ffi::lua_insert(l, 1);
                ffi::lua_call(l, nargs, ffi::LUA_MULTRET);
                ffi::lua_gettop(l) - 1
            }
        }
    }
}

/// Pushes one result value.
///
/// # Safety
/// `l` is the running thread in a write phase (may raise).
unsafe fn push_item(l: State, item: Item) {
    // SAFETY: see `write`. A C function has `LUA_MINSTACK` free slots and returns at most
    // three items; what builds more (payloads, events) checks the stack itself.
    unsafe {
        match item {
            Item::Nil => ffi::lua_pushnil(l),
            Item::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Item::Num(n) => ffi::lua_pushnumber(l, n),
            Item::Str(s) => push_bytes(l, &s),
            Item::PidStr(s, cache, pid) => {
                push_bytes(l, &s);
                let r = ffi::lua_ref(l, -1);
                if r > 0 {
                    if let Some(old) = cache.put(pid, r) {
                        ffi::lua_unref(l, old);
                    }
                }
            }
            Item::At(i) => ffi::lua_pushvalue(l, i),
            Item::Ref(r) => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r);
            }
            Item::Message(m) => push_udata(l, m),
            Item::Time(t) => push_udata(l, t),
            Item::Duration(d) => push_udata(l, d),
            Item::MsgTopic(i) => {
                let t = ffi::lua_touserdatatagged(l, i, MsgData::TAG) as *const MsgData;
                match t.as_ref() {
                    Some(m) => push_bytes(l, m.topic.as_bytes()),
                    None => ffi::lua_pushnil(l),
                }
            }
            Item::PayloadArray(p) => {
                let n = p.len();
                ffi::lua_createtable(l, n.min(1 << 24) as c_int, 0);
                for i in 0..n {
                    push_udata(
                        l,
                        PayloadData {
                            payload: p.clone(),
                            index: i as u32,
                        },
                    );
                    ffi::lua_rawseti_(l, -2, i as c_int + 1);
                }
            }
            Item::Payload(p) => push_udata(l, p),
            Item::Decode(p, i) => decode_value(l, &p, i as usize),
            Item::DecodeAll(p) => match p.len() {
                0 => ffi::lua_pushnil(l),
                1 => decode_value(l, &p, 0),
                n => {
                    ffi::lua_createtable(l, n as c_int, 0);
                    let p = Rc::new(p);
                    for i in 0..n {
                        decode_value(l, &p, i);
                        ffi::lua_rawseti_(l, -2, i as c_int + 1);
                    }
                }
            },
            Item::Event(e) => push_event(l, *e),
            Item::Error(e) => push_error(l, e),
            Item::Case { meta, chan, value } => {
                ffi::lua_createtable(l, 3, 0);
                ffi::lua_pushvalue(l, chan);
                ffi::lua_rawseti_(l, -2, 1);
                if let Some(v) = value {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawseti_(l, -2, 2);
                    ffi::lua_pushvalue(l, v);
                    ffi::lua_rawseti_(l, -2, 3);
                }
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, meta);
                ffi::lua_setmetatable(l, -2);
                ffi::lua_setreadonly(l, -1, 1);
            }
            Item::Stored(store, key) => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
                if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                    ffi::lua_rawgeti_(l, -1, key);
                    // Clearing a present key never allocates.
                    ffi::lua_pushnil(l);
                    ffi::lua_rawseti_(l, -3, key);
                    ffi::lua_remove(l, -2);
                } else {
                    ffi::lua_settop(l, -2);
                    ffi::lua_pushnil(l);
                }
            }
        }
    }
}

/// Pushes a string.
///
/// # Safety
/// Write phase (may raise).
unsafe fn push_bytes(l: State, s: &[u8]) {
    // SAFETY: `s` outlives the call; Luau copies the bytes.
    unsafe {
        if s.is_empty() {
            ffi::lua_pushlstring_(l, c"".as_ptr(), 0);
        } else {
            ffi::lua_pushlstring_(l, s.as_ptr() as *const c_char, s.len());
        }
    }
}

/// Pushes a new tagged userdata holding `value`.
///
/// # Safety
/// Write phase (may raise). The tag's metatable and destructor are set ([`register_tags`]).
unsafe fn push_udata<T: Tagged>(l: State, value: T) {
    const { assert!(std::mem::align_of::<T>() <= 8) };
    // SAFETY: Luau returns storage for `size_of::<T>()` bytes aligned to 8 (or raises before
    // anything is written; `value` is then dropped by the unwinding); it is written once here
    // and dropped by the tag's destructor (invariant 5).
    unsafe {
        let p = ffi::lua_newuserdatataggedwithmetatable(l, std::mem::size_of::<T>(), T::TAG);
        std::ptr::write(p as *mut T, value);
    }
}

/// Keys of an event table, and of its result table, and the kinds' values, by index into
/// [`EVENT_KEYS`].
const K_KIND: usize = 0;
const K_FROM: usize = 1;
const K_AT: usize = 2;
const K_REASON: usize = 3;
const K_RESULT: usize = 4;
const K_VALUE: usize = 5;
const K_ERROR: usize = 6;
const V_EXIT: usize = 7;
const V_LINK_DOWN: usize = 8;
const V_CANCEL: usize = 9;
const EVENT_STRINGS: [&std::ffi::CStr; 10] = [
    c"kind",
    c"from",
    c"at",
    c"reason",
    c"result",
    c"value",
    c"error",
    c"pid.exit",
    c"pid.link.down",
    c"pid.cancel",
];

/// The index in [`EVENT_STRINGS`] of a kind's value (checked against
/// [`EventKind::as_str`] by a test).
fn kind_string(kind: starling_core::EventKind) -> usize {
    match kind {
        starling_core::EventKind::Exit => V_EXIT,
        starling_core::EventKind::LinkDown => V_LINK_DOWN,
        starling_core::EventKind::Cancel => V_CANCEL,
    }
}

/// Pushes event string `i`: the string kept in the registry (a C string is hashed and
/// interned again on every push), or the C string if there is none.
///
/// # Safety
/// Write phase (may raise); one free slot.
unsafe fn push_event_string(l: State, i: usize) {
    let r = EVENT_KEYS.get().get(i).copied().unwrap_or(ffi::LUA_NOREF);
    // SAFETY: see the contract.
    unsafe {
        if r > 0 {
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r);
        } else {
            let name = EVENT_STRINGS.get(i).copied().unwrap_or(c"");
            ffi::lua_pushstring(l, name.as_ptr());
        }
    }
}

/// Pops the value at -1 into the table at -2 under event key `key` ([`push_event_string`]).
///
/// # Safety
/// Write phase (may raise); a table at -2, the value at -1, one free slot.
unsafe fn set_event_key(l: State, key: usize) {
    // SAFETY: see the contract; the key goes between the table and the value.
    unsafe {
        push_event_string(l, key);
        ffi::lua_insert(l, -2);
        ffi::lua_rawset(l, -3);
    }
}

/// Pushes an event table (SPEC §5.4).
///
/// # Safety
/// Write phase (may raise).
unsafe fn push_event(l: State, e: EventTable) {
    // SAFETY: builds a table on `l` (write phase).
    unsafe {
        ffi::lua_checkstack(l, 8);
        ffi::lua_createtable(l, 0, 4);
        push_event_string(l, kind_string(e.kind));
        set_event_key(l, K_KIND);
        match e.from {
            PidText::Cached(r) => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r);
            }
            PidText::Text(t) => push_bytes(l, &t),
        }
        set_event_key(l, K_FROM);
        ffi::lua_pushnumber(l, e.at as f64);
        set_event_key(l, K_AT);
        if let Some(reason) = &e.reason {
            push_bytes(l, reason.as_bytes());
            set_event_key(l, K_REASON);
        }
        if let Some(r) = e.result {
            ffi::lua_createtable(l, 0, 1);
            match r.result() {
                Ok(p) => {
                    decode_tree(l, p, 0);
                    set_event_key(l, K_VALUE);
                }
                Err(err) => {
                    push_error(l, err.clone());
                    set_event_key(l, K_ERROR);
                }
            }
            set_event_key(l, K_RESULT);
        }
    }
}

/// Pushes an error object, made by the errors module's maker (see [`set_error_maker`]).
///
/// # Safety
/// Write phase (may raise).
unsafe fn push_error(l: State, e: ErrorValue) {
    let maker = ERROR_MAKER.get();
    // A stale value left by a raise inside the maker is simply replaced.
    ERROR_HANDOFF.with(|h| {
        if let Ok(mut h) = h.try_borrow_mut() {
            *h = Some(e);
        }
    });
    // SAFETY: calls the maker (an mlua function taking no argument) unprotected: its errors
    // are this function's errors (write phase).
    unsafe {
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, maker);
        if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
            ffi::lua_settop(l, -2);
            ffi::lua_pushnil(l);
            return;
        }
        ffi::lua_call(l, 0, 1);
    }
}

/// Sets the function that makes error objects: an mlua function that takes the error
/// [`take_error_handoff`] returns and wraps it.
pub(crate) fn set_error_maker(lua: &Lua, f: &mlua::Function) -> mlua::Result<()> {
    // SAFETY: references the function mlua pushed (inside its protected call).
    let r = unsafe {
        lua.exec_raw::<c_int>(f, |l| {
            let r = ffi::lua_ref(l, -1);
            ffi::lua_settop(l, 0);
            ffi::lua_pushinteger(l, r as ffi::lua_Integer);
        })?
    };
    ERROR_MAKER.set(r);
    Ok(())
}

/// The error value the error maker is asked to wrap (see [`set_error_maker`]).
pub(crate) fn take_error_handoff() -> Option<ErrorValue> {
    ERROR_HANDOFF.with(|h| h.try_borrow_mut().ok().and_then(|mut h| h.take()))
}

// ---------------------------------------------------------------------------------------------
// Payloads: Lua values out (encode) and in (decode)
// ---------------------------------------------------------------------------------------------

/// Sets the function that copies values into a payload the slow way (error objects, tables
/// nested deeper than the scratch stack): an mlua function that takes the values and hands
/// the payload back through [`hand_payload`].
pub(crate) fn set_payload_maker(lua: &Lua, f: &mlua::Function) -> mlua::Result<()> {
    PAYLOAD_MAKER.set(make_ref(lua, f)?);
    Ok(())
}

/// Hands a payload back to [`encode`] (called by the payload maker).
pub(crate) fn hand_payload(p: Payload) {
    PAYLOAD_HANDOFF.with(|h| {
        if let Ok(mut h) = h.try_borrow_mut() {
            *h = Some(p);
        }
    });
}

/// Walks the values at `from..=to` of `l` into a payload, on the scratch thread so the walk
/// never grows `l`'s stack (and so never raises): the fast walk, else the payload maker in a
/// protected call. `None` only when both fail (out of memory).
fn encode(l: State, from: c_int, to: c_int) -> Option<Payload> {
    encode_scalars(l, from, to)
        .or_else(|| encode_fast(l, from, to))
        .or_else(|| encode_slow(l, from, to))
}

/// The values at `from..=to` when each is nil, a boolean, a number or a string (an exit's
/// `return 0`, a scalar message), read where they are: no scratch thread, no walk.
fn encode_scalars(l: State, from: c_int, to: c_int) -> Option<Payload> {
    let mut values = Vec::new();
    for i in from..=to {
        // SAFETY: reads a value of `l` (invariant 1); `scalar` is given its type.
        let v = unsafe {
            let t = ffi::lua_type(l, i);
            if !is_scalar(t) {
                return None;
            }
            scalar(l, i, t)
        };
        if values.capacity() == 0 {
            values = Vec::with_capacity((to - i + 1) as usize);
        }
        values.push(v);
    }
    Some(Payload {
        values,
        tables: Vec::new(),
    })
}

#[inline(always)]
fn is_scalar(t: c_int) -> bool {
    matches!(
        t,
        ffi::LUA_TNIL | ffi::LUA_TBOOLEAN | ffi::LUA_TNUMBER | ffi::LUA_TINTEGER | ffi::LUA_TSTRING
    )
}

/// The scalar of type `t` (see [`is_scalar`]) at `i` of `s`; nil for any other type.
///
/// # Safety
/// `i` is a valid index of the live thread `s` and `t` the type of the value there.
#[inline(always)]
unsafe fn scalar(s: State, i: c_int, t: c_int) -> Value {
    // SAFETY: each read matches the value's type (the caller's contract); none converts in
    // place, allocates or raises.
    unsafe {
        match t {
            ffi::LUA_TBOOLEAN => Value::Bool(ffi::lua_toboolean(s, i) != 0),
            ffi::LUA_TNUMBER => Value::number(ffi::lua_tonumberx(s, i, std::ptr::null_mut())),
            ffi::LUA_TINTEGER => Value::Int(ffi::lua_tointeger64(s, i, std::ptr::null_mut())),
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(s, i, &mut len);
                Value::Str(std::slice::from_raw_parts(p as *const u8, len).into())
            }
            _ => Value::Nil,
        }
    }
}

/// The slow path of [`encode`]: the payload maker, called protected on the scratch thread.
fn encode_slow(l: State, from: c_int, to: c_int) -> Option<Payload> {
    let scratch = SCRATCH.get();
    let maker = PAYLOAD_MAKER.get();
    if scratch.is_null() || maker == ffi::LUA_NOREF || to - from + 2 > SCRATCH_SLOTS {
        return None;
    }
    PAYLOAD_HANDOFF.with(|h| h.try_borrow_mut().map(|mut h| h.take()).ok());
    // SAFETY: the scratch stack has room for the maker and the values (checked above, and
    // grown once at VM creation); each value is copied through one slot of `l`; the call is
    // protected, so nothing raises out of it.
    let status = unsafe {
        ffi::lua_settop(scratch, 0);
        ffi::lua_rawgeti_(scratch, ffi::LUA_REGISTRYINDEX, maker);
        for i in from..=to {
            ffi::lua_pushvalue(l, i);
            ffi::lua_xmove(l, scratch, 1);
        }
        let status = ffi::lua_pcall(scratch, to - from + 1, 0, 0);
        ffi::lua_settop(scratch, 0);
        status
    };
    if status != ffi::LUA_OK {
        return None;
    }
    PAYLOAD_HANDOFF.with(|h| h.try_borrow_mut().ok().and_then(|mut h| h.take()))
}

/// The fast path of [`encode`].
fn encode_fast(l: State, from: c_int, to: c_int) -> Option<Payload> {
    let scratch = SCRATCH.get();
    if scratch.is_null() {
        return None;
    }
    let mut e = Encoder {
        s: scratch,
        seen: Seen::default(),
        tables: Vec::new(),
        depth: 0,
    };
    let mut values = Vec::with_capacity((to - from + 1).max(0) as usize);
    let mut ok = true;
    for i in from..=to {
        // SAFETY: copies an existing value to the scratch thread, whose stack has room
        // (invariant 4); `xmove` between threads of one VM does not allocate then.
        unsafe {
            ffi::lua_pushvalue(l, i);
            ffi::lua_xmove(l, scratch, 1);
        }
        match e.value(-1) {
            Some(v) => values.push(v),
            None => ok = false,
        }
        // SAFETY: drops what the walk left on the scratch thread.
        unsafe { ffi::lua_settop(scratch, 0) };
        if !ok {
            return None;
        }
    }
    Some(Payload {
        values,
        tables: e.tables,
    })
}

struct Encoder {
    s: State,
    seen: Seen,
    tables: Vec<Table>,
    /// Tables being walked (the recursion's depth).
    depth: u32,
}

/// The tables an encode has walked, by address: the first few in place (a message is
/// usually one or two tables; a hash map cost an allocation and a rehash per send), the rest
/// in a map.
#[derive(Default)]
struct Seen {
    few: [(usize, u32); SEEN_IN_PLACE],
    len: usize,
    many: FxHashMap<usize, u32>,
}

/// Tables [`Seen`] keeps without allocating.
const SEEN_IN_PLACE: usize = 8;

impl Seen {
    fn get(&self, p: *const c_void) -> Option<u32> {
        let key = p as usize;
        let few = self.few.get(..self.len).unwrap_or(&[]);
        match few.iter().find(|(k, _)| *k == key) {
            Some((_, n)) => Some(*n),
            None if self.len == SEEN_IN_PLACE => self.many.get(&key).copied(),
            None => None,
        }
    }

    fn insert(&mut self, p: *const c_void, n: u32) {
        let key = p as usize;
        match self.few.get_mut(self.len) {
            Some(slot) => {
                *slot = (key, n);
                self.len += 1;
            }
            None => {
                self.many.insert(key, n);
            }
        }
    }
}

/// Scratch slots one nesting level of a table walk uses: the table, a key and a value.
const SLOTS_PER_LEVEL: c_int = 3;

/// Deepest nesting the recursive walk takes; deeper payloads go by the iterative slow path.
/// A level costs about 1.5 KB of a debug build's thread stack (threads have 2 MiB).
const FAST_DEPTH: u32 = 256;

impl Encoder {
    /// The value at `i` of the scratch stack; `None` for the slow path.
    fn value(&mut self, i: c_int) -> Option<Value> {
        // SAFETY: reads a value on the scratch thread.
        let t = unsafe { ffi::lua_type(self.s, i) };
        self.typed(i, t)
    }

    /// [`Encoder::value`] when the value's type `t` is known.
    fn typed(&mut self, i: c_int, t: c_int) -> Option<Value> {
        Some(match t {
            // SAFETY: a value of the scratch thread, of type `t`.
            t if is_scalar(t) => unsafe { scalar(self.s, i, t) },
            ffi::LUA_TTABLE => return self.table(i),
            // Error objects are mlua userdata: the slow path knows them; any other userdata
            // (and functions, threads) becomes nil.
            ffi::LUA_TUSERDATA => {
                // SAFETY: reads the tag of a userdata.
                let tag = unsafe { ffi::lua_userdatatag(self.s, i) };
                if is_ours(tag) {
                    Value::Nil
                } else {
                    return None;
                }
            }
            _ => Value::Nil,
        })
    }

    /// A table at `i`: its arena index, walking it (and what it reaches) if new.
    fn table(&mut self, i: c_int) -> Option<Value> {
        // SAFETY: reads the table's address.
        let p = unsafe { ffi::lua_topointer(self.s, i) };
        if let Some(n) = self.seen.get(p) {
            return Some(Value::Table(n));
        }
        // SAFETY: reads the scratch stack height.
        let used = unsafe { ffi::lua_gettop(self.s) };
        if used + SLOTS_PER_LEVEL + 1 > SCRATCH_SLOTS || self.depth >= FAST_DEPTH {
            return None;
        }
        self.depth += 1;
        let n = self.tables.len() as u32;
        // Most messages hold one table: the arena grows from one slot, not four.
        if self.tables.len() == self.tables.capacity() {
            self.tables.reserve_exact(self.tables.len().max(1));
        }
        self.tables.push(Table::default());
        self.seen.insert(p, n);
        // SAFETY: the walk: `lua_rawiter` on a table at a fixed absolute index, with the key
        // and value pushed in the slots checked above (so it never grows the stack); raw, no
        // metamethods, no allocation. It goes by slot number, where `lua_next` would look
        // the previous key up again for every step.
        unsafe {
            let t = ffi::lua_absindex(self.s, i);
            let len = ffi::lua_objlen(self.s, t);
            let mut array = if len == 0 {
                Vec::new()
            } else {
                vec![Value::Nil; len]
            };
            let mut hash = Vec::new();
            let mut at = 0;
            loop {
                at = ffi::lua_rawiter(self.s, t, at);
                if at < 0 {
                    break;
                }
                // key at -2, value at -1; each type is read once.
                let kt = ffi::lua_type(self.s, -2);
                let vt = ffi::lua_type(self.s, -1);
                let index = match kt {
                    ffi::LUA_TNUMBER => {
                        let k = ffi::lua_tonumberx(self.s, -2, std::ptr::null_mut());
                        (k.fract() == 0.0 && k >= 1.0 && k <= len as f64).then_some(k as usize)
                    }
                    _ => None,
                };
                match index {
                    Some(k) => {
                        let v = self.typed(-1, vt)?;
                        if let Some(slot) = array.get_mut(k - 1) {
                            *slot = v;
                        }
                    }
                    None => {
                        // Both halves are checked before either is copied (a dropped value
                        // must not copy its key into the arena for nothing).
                        if crosses(self.s, -2, kt) && crosses(self.s, -1, vt) {
                            let k = self.typed(-2, kt)?;
                            if k != Value::Nil {
                                let v = self.typed(-1, vt)?;
                                if v != Value::Nil {
                                    hash.push((k, v));
                                }
                            }
                        }
                    }
                }
                ffi::lua_settop(self.s, -3);
            }
            while array.last() == Some(&Value::Nil) {
                array.pop();
            }
            if let Some(slot) = self.tables.get_mut(n as usize) {
                *slot = Table { array, hash };
            }
        }
        self.depth -= 1;
        Some(Value::Table(n))
    }
}

/// True when the value at `i`, of type `t`, copies to something other than nil.
fn crosses(s: State, i: c_int, t: c_int) -> bool {
    match t {
        ffi::LUA_TBOOLEAN
        | ffi::LUA_TNUMBER
        | ffi::LUA_TINTEGER
        | ffi::LUA_TSTRING
        | ffi::LUA_TTABLE => true,
        // Unknown userdata may be error objects: the walk decides (slow path).
        ffi::LUA_TUSERDATA => {
            // SAFETY: reads a userdata tag.
            let tag = unsafe { ffi::lua_userdatatag(s, i) };
            !is_ours(tag)
        }
        _ => false,
    }
}

/// Tables a decode keeps on the stack before it keeps them in one Lua table.
const DECODE_ON_STACK: usize = 8;

/// Where the Lua tables of a payload being decoded are.
#[derive(Copy, Clone)]
enum Built {
    /// The payload has no tables.
    None,
    /// Table `i` is at stack index `base + 1 + i` (a few tables).
    Stack { base: c_int, n: usize },
    /// Table `i` is at key `i + 1` of the array table at stack index `at`.
    Array { at: c_int },
}

impl Built {
    /// Pushes table `i` (nil when there is no such table).
    ///
    /// # Safety
    /// Write phase; the tables are where `self` says.
    unsafe fn push(self, l: State, i: u32) {
        // SAFETY: pushes an existing value (the caller checked the stack).
        unsafe {
            match self {
                Built::Stack { base, n } if (i as usize) < n => {
                    ffi::lua_pushvalue(l, base + 1 + i as c_int)
                }
                Built::Array { at } => {
                    ffi::lua_rawgeti_(l, at, i as c_int + 1);
                }
                _ => ffi::lua_pushnil(l),
            }
        }
    }
}

/// Pushes value `index` of `b` as a Lua value (nil when absent).
///
/// # Safety
/// Write phase on the running thread `l` (may raise).
unsafe fn decode_value(l: State, b: &MsgBody, index: usize) {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        match b {
            MsgBody::Values(p) => decode_tree(l, p, index),
            MsgBody::Flat(f) => decode_flat(l, f, index),
        }
    }
}

/// Pushes value `index` of a flat body (nil when absent or malformed).
///
/// # Safety
/// Write phase on the running thread `l` (may raise).
unsafe fn decode_flat(l: State, f: &Flat, index: usize) {
    // SAFETY: the stack is checked once for the deepest nesting (three slots a level: the
    // table, a key, a value) plus the table of opened tables; `FlatDecode` pushes within that.
    unsafe {
        let Some(mut r) = f.value(index) else {
            ffi::lua_pushnil(l);
            return;
        };
        if ffi::lua_checkstack(l, 3 * f.depth() as c_int + 6) == 0 {
            // A thread at Luau's stack ceiling: nil (a C function always has a free slot).
            ffi::lua_pushnil(l);
            return;
        }
        let base = ffi::lua_gettop(l);
        let opened = if f.has_refs() {
            ffi::lua_createtable(l, 4, 0);
            Some(base + 1)
        } else {
            None
        };
        let mut d = FlatDecode { l, opened, next: 0 };
        if d.value(&mut r, 0).is_none() {
            // Malformed: nil, never a half-built value.
            ffi::lua_settop(l, base);
            ffi::lua_pushnil(l);
            return;
        }
        if opened.is_some() {
            ffi::lua_replace(l, base + 1);
        }
    }
}

/// A flat body being pushed as Lua values.
struct FlatDecode {
    l: State,
    /// Stack index of the array of tables opened so far (only when the body has references).
    opened: Option<c_int>,
    next: c_int,
}

impl FlatDecode {
    /// Pushes the next value; `None` when the buffer is malformed (what was pushed for it
    /// stays; the caller resets the stack).
    ///
    /// # Safety
    /// Write phase; the stack has three free slots for each level below `depth` (see
    /// [`decode_flat`]).
    unsafe fn value(
        &mut self,
        r: &mut starling_core::flat::Reader<'_>,
        depth: usize,
    ) -> Option<()> {
        let l = self.l;
        // SAFETY: pushes into slots the caller checked; table writes are raw.
        unsafe {
            match r.token()? {
                Token::Nil => ffi::lua_pushnil(l),
                Token::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
                Token::Int(i) => ffi::lua_pushnumber(l, i as f64),
                Token::Float(x) => ffi::lua_pushnumber(l, x),
                Token::Str(s) => push_bytes(l, s),
                Token::Ref(n) => match self.opened {
                    Some(at) => {
                        ffi::lua_rawgeti_(l, at, n as c_int + 1);
                    }
                    None => return None,
                },
                Token::Table { array, pairs } => {
                    if depth >= starling_core::flat::MAX_DEPTH {
                        return None;
                    }
                    ffi::lua_createtable(
                        l,
                        array.min(1 << 24) as c_int,
                        pairs.min(1 << 24) as c_int,
                    );
                    if let Some(at) = self.opened {
                        self.next += 1;
                        ffi::lua_pushvalue(l, -1);
                        ffi::lua_rawseti_(l, at, self.next);
                    }
                    for k in 0..array {
                        self.value(r, depth + 1)?;
                        ffi::lua_rawseti_(l, -2, k as c_int + 1);
                    }
                    for _ in 0..pairs {
                        self.value(r, depth + 1)?;
                        self.value(r, depth + 1)?;
                        let kt = ffi::lua_type(l, -2);
                        let bad_key = kt == ffi::LUA_TNIL
                            || (kt == ffi::LUA_TNUMBER
                                && ffi::lua_tonumberx(l, -2, std::ptr::null_mut()).is_nan());
                        if bad_key || ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                            ffi::lua_settop(l, -3);
                            continue;
                        }
                        ffi::lua_rawset(l, -3);
                    }
                }
            }
        }
        Some(())
    }
}

/// Pushes value `index` of the tree `p` as a Lua value (nil when absent).
///
/// # Safety
/// Write phase on the running thread `l` (may raise).
unsafe fn decode_tree(l: State, p: &Payload, index: usize) {
    // SAFETY: builds values on `l` in the write phase; every index into the
    // arena is checked (a malformed payload decodes to nils, never panics).
    unsafe {
        let Some(v) = p.values.get(index) else {
            ffi::lua_pushnil(l);
            return;
        };
        if p.tables.is_empty() {
            ffi::lua_checkstack(l, 3);
            push_scalar(l, v, Built::None);
            return;
        }
        let n = p.tables.len();
        ffi::lua_checkstack(l, DECODE_ON_STACK as c_int + 8);
        let base = ffi::lua_gettop(l);
        let built = if n > DECODE_ON_STACK {
            ffi::lua_createtable(l, n.min(1 << 24) as c_int, 0);
            Built::Array { at: base + 1 }
        } else {
            Built::Stack { base, n }
        };
        for (i, t) in p.tables.iter().enumerate() {
            let narr = t.array.len().min(1 << 24) as c_int;
            let nrec = t.hash.len().min(1 << 24) as c_int;
            ffi::lua_createtable(l, narr, nrec);
            if let Built::Array { at } = built {
                ffi::lua_rawseti_(l, at, i as c_int + 1);
            }
        }
        for (i, t) in p.tables.iter().enumerate() {
            built.push(l, i as u32);
            for (k, v) in t.array.iter().enumerate() {
                push_scalar(l, v, built);
                ffi::lua_rawseti_(l, -2, k as c_int + 1);
            }
            for (k, v) in &t.hash {
                push_scalar(l, k, built);
                push_scalar(l, v, built);
                if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                    ffi::lua_settop(l, -3);
                    continue;
                }
                ffi::lua_rawset(l, -3);
            }
            ffi::lua_settop(l, -2);
        }
        push_scalar(l, v, built);
        // Keep only the result, where the tables started.
        ffi::lua_replace(l, base + 1);
        ffi::lua_settop(l, base + 1);
    }
}

/// Pushes a payload value; a table is one of the built ones.
///
/// # Safety
/// Write phase (may raise); the built tables are where `built` says; the stack has a free
/// slot (a decode checks its stack once, not for every value).
unsafe fn push_scalar(l: State, v: &Value, built: Built) {
    // SAFETY: pushes one value on `l` (write phase) into a slot the caller checked.
    unsafe {
        match v {
            Value::Nil => ffi::lua_pushnil(l),
            Value::Bool(b) => ffi::lua_pushboolean(l, *b as c_int),
            Value::Int(i) => ffi::lua_pushnumber(l, *i as f64),
            Value::Float(f) => ffi::lua_pushnumber(l, *f),
            Value::Str(s) => push_bytes(l, s),
            Value::Table(t) => built.push(l, *t),
            Value::Error(e) => push_error(l, e.clamped(MAX_ERROR_DEPTH)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Protected work from outside Lua, threads, resumes
// ---------------------------------------------------------------------------------------------

/// A Luau thread the engine owns: its state and the registry reference keeping it alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thread {
    l: State,
    r: c_int,
}

impl Thread {
    /// Its identity (for comparing with the thread an interrupt fires on).
    pub(crate) fn id(self) -> *const c_void {
        self.l as *const c_void
    }
}

/// How a resume ended.
#[derive(Debug)]
pub(crate) enum Resumed {
    /// Yielded PENDING: the task waits for something.
    Pending,
    /// Yielded anything else (preempted, or a plain `coroutine.yield()` at task level).
    Yielded,
    /// Returned: its results are on its stack ([`Thread::results`]).
    Returned,
    /// Failed with an error that the task body did not catch (out of memory, mostly).
    Failed(String),
}

/// What a new process is made from, kept per entry per VM (registry references).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recipe {
    /// `{__index = template}`, the metatable of the process's global table.
    pub(crate) meta: c_int,
    /// The entry's loaded chunk.
    pub(crate) chunk: c_int,
    /// The task body (`task_body(f, ...)`).
    pub(crate) body: c_int,
    /// The method name (a string), or `LUA_NOREF` to run the chunk itself.
    pub(crate) method: c_int,
    /// The chunk is inert ([`chunk_is_inert`]): running it only makes values.
    pub(crate) inert: bool,
}

/// A process made by [`make_process`].
#[derive(Debug)]
pub(crate) struct Made {
    /// Its main task's thread.
    pub(crate) thread: Thread,
}

/// Why [`make_process`] failed.
#[derive(Debug)]
pub(crate) enum MakeError {
    /// The chunk returned no function under the method's name.
    NoMethod,
    /// The chunk raised this (as text), or memory ran out.
    Raised(String),
}

struct MakeCall<'a> {
    recipe: Recipe,
    args: Args<'a>,
    /// The entry's method cache (see [`make_process`]).
    cache: &'a Cell<c_int>,
    /// Where the global table's reference goes as soon as it exists (the chunk's top level
    /// may `require`, which reads it).
    env: &'a Cell<c_int>,
    made: Option<Made>,
    error: Option<MakeError>,
}

/// The body of [`make_process`]'s protected call (kept as one C function per VM, [`MAKER`]).
unsafe extern "C-unwind" fn make(l: State) -> c_int {
    // SAFETY: called by `lua_pcall` below with the `MakeCall` as a light userdata; every
    // raise is caught by that call. Panic-free: no indexing, no unwrap.
    unsafe {
        let call = &mut *(ffi::lua_tolightuserdata(l, 1) as *mut MakeCall<'_>);
        ffi::lua_settop(l, 0);
        let r = call.recipe;
        ffi::lua_checkstack(l, 8);
        // 1: env
        ffi::lua_createtable(l, 0, 0);
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r.meta);
        ffi::lua_setmetatable(l, 1);
        ffi::lua_setsafeenv(l, 1, 1);
        let env = ffi::lua_ref(l, 1);
        call.env.set(env);
        let cached = call.cache.get();
        if r.method != ffi::LUA_NOREF && cached > 0 {
            // 2: a copy of the cached method, with env
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, cached);
            ffi::lua_clonefunction(l, -1);
            ffi::lua_remove(l, 2);
            ffi::lua_pushvalue(l, 1);
            ffi::lua_setfenv(l, 2);
        } else if !make_method(l, call) {
            return 0;
        }
        // 3: the thread, holding body, main, args...
        let t = ffi::lua_newthread(l);
        let tref = ffi::lua_ref(l, 3);
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r.body);
        ffi::lua_xmove(l, t, 1);
        ffi::lua_pushvalue(l, 2);
        ffi::lua_xmove(l, t, 1);
        match call.args {
            Args::Payload(args) => {
                let n = args.values.len();
                ffi::lua_checkstack(t, n as c_int + 4);
                for i in 0..n {
                    decode_tree(t, args, i);
                }
            }
            Args::Stack(a) => {
                // The spawning function's values, still on its stack (the borrow in
                // `StackArgs`), copied to the new thread of the same VM.
                ffi::lua_checkstack(t, (a.to - a.from + 1).max(0) + 4);
                for i in a.from..=a.to {
                    ffi::lua_xpush(a.l, t, i);
                }
            }
        }
        call.made = Some(Made {
            thread: Thread { l: t, r: tref },
        });
        0
    }
}

/// Slot 2 of [`make`]'s stack: the chunk's copy with the environment at slot 1 and, when the
/// entry has a method, the chunk run and its method found. Fills the entry's method cache on
/// the first call for an inert chunk. False when it failed (the error is in `call`).
///
/// # Safety
/// Called by [`make`] only, inside its protected call, with slot 1 the new environment.
unsafe fn make_method(l: State, call: &mut MakeCall<'_>) -> bool {
    let r = call.recipe;
    // SAFETY: see the contract; every raise is caught by the protected call around `make`.
    unsafe {
        // 2: the chunk's copy, with env
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r.chunk);
        ffi::lua_clonefunction(l, -1);
        ffi::lua_remove(l, 2);
        ffi::lua_pushvalue(l, 1);
        ffi::lua_setfenv(l, 2);
        if r.method != ffi::LUA_NOREF {
            // Run the chunk; its first result holds the method.
            if ffi::lua_pcall(l, 0, 1, 0) != ffi::LUA_OK {
                let mut len = 0usize;
                let p = ffi::luaL_tolstring_(l, -1, &mut len);
                let text = String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len))
                    .into_owned();
                call.error = Some(MakeError::Raised(text));
                return false;
            }
            // 2: the chunk's result
            match ffi::lua_type(l, 2) {
                ffi::LUA_TTABLE => {
                    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r.method);
                    ffi::lua_gettable(l, 2);
                    ffi::lua_remove(l, 2);
                }
                ffi::LUA_TFUNCTION => {}
                _ => {
                    ffi::lua_settop(l, 1);
                    ffi::lua_pushnil(l);
                }
            }
            if ffi::lua_type(l, 2) != ffi::LUA_TFUNCTION {
                call.error = Some(MakeError::NoMethod);
                return false;
            }
            if r.inert && call.cache.get() == ffi::LUA_NOREF {
                // The first spawn on this VM decides: a Lua method without upvalues is kept,
                // and later spawns copy it instead of running the chunk.
                if ffi::lua_iscfunction(l, 2) == 0 && ffi::lua_getupvalue(l, 2, 1).is_null() {
                    ffi::lua_clonefunction(l, 2);
                    call.cache.set(ffi::lua_ref(l, -1));
                    ffi::lua_settop(l, -2);
                } else {
                    ffi::lua_settop(l, 2);
                    call.cache.set(NOT_CACHEABLE);
                }
            }
        }
    }
    true
}

/// Makes a process in one protected call on the main thread: its global table (reading
/// through `recipe.meta`), a copy of the chunk with that environment, the chunk run when the
/// entry has a method (its top level may call runtime functions; the caller makes the new
/// process current), and the main task's thread holding `body(main, args...)`.
pub(crate) fn make_process(
    recipe: Recipe,
    args: Args<'_>,
    env: &Cell<c_int>,
    cache: &Cell<c_int>,
) -> Result<Made, MakeError> {
    let main = MAIN.get();
    if main.is_null() {
        return Err(MakeError::Raised("no Lua VM on this thread".into()));
    }
    let mut call = MakeCall {
        recipe,
        args,
        cache,
        env,
        made: None,
        error: None,
    };
    // SAFETY: a protected call on the main thread, whose stack is left as found; `make` only
    // touches `call` through the pointer, which outlives the call.
    let status = unsafe {
        let top = ffi::lua_gettop(main);
        ffi::lua_rawgeti_(main, ffi::LUA_REGISTRYINDEX, MAKER.get());
        ffi::lua_pushlightuserdata(main, &mut call as *mut MakeCall<'_> as *mut c_void);
        let status = ffi::lua_pcall(main, 1, 0, 0);
        let msg = if status != ffi::LUA_OK {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(main, -1, &mut len);
            (!p.is_null()).then(|| {
                String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len))
                    .into_owned()
            })
        } else {
            None
        };
        ffi::lua_settop(main, top);
        (status, msg)
    };
    let failed = |e: MakeError| {
        let r = env.replace(ffi::LUA_NOREF);
        if r != ffi::LUA_NOREF {
            unref(r);
        }
        Err(e)
    };
    if let Some(e) = call.error {
        if let Some(m) = call.made.take() {
            m.thread.release();
        }
        return failed(e);
    }
    match (status, call.made) {
        ((ffi::LUA_OK, _), Some(made)) => Ok(made),
        ((_, msg), _) => failed(MakeError::Raised(
            msg.unwrap_or_else(|| "not enough memory".to_string()),
        )),
    }
}

/// Makes a task thread that will call `f(args...)` through `body`: `body(f, args...)`.
pub(crate) fn new_thread(
    lua: &Lua,
    body: &mlua::Function,
    f: &mlua::Function,
    args: &Payload,
) -> mlua::Result<Thread> {
    let args = Rc::new(args.clone());
    // SAFETY: inside mlua's protected call: creates the thread on the main state, references
    // it, and pushes the body, the function and the decoded arguments on it (raising on out
    // of memory is caught by the protected call).
    unsafe {
        lua.exec_raw::<(mlua::LightUserData, i64)>((body, f), |l| {
            let t = ffi::lua_newthread(l);
            let r = ffi::lua_ref(l, -1);
            ffi::lua_settop(l, -2);
            // body, f
            ffi::lua_xmove(l, t, 2);
            let n = args.values.len();
            ffi::lua_checkstack(t, n as c_int + 4);
            for i in 0..n {
                decode_tree(t, &args, i);
            }
            ffi::lua_settop(l, 0);
            ffi::lua_pushlightuserdata(l, t as *mut c_void);
            ffi::lua_pushinteger(l, r as ffi::lua_Integer);
        })
        .map(|(p, r)| Thread {
            l: p.0 as State,
            r: r as c_int,
        })
    }
}

impl Thread {
    /// Number of values on the thread's stack (a new thread's arguments, or its results).
    pub(crate) fn top(self) -> c_int {
        // SAFETY: the thread is alive (referenced).
        unsafe { ffi::lua_gettop(self.l) }
    }

    /// Resumes the thread with the `nargs` values on its stack.
    pub(crate) fn resume(self, nargs: c_int) -> Resumed {
        // SAFETY: resumes a suspended (or new) thread of this VM; `lua_resume` runs it
        // protected and never raises.
        unsafe {
            let status = ffi::lua_resume_(self.l, std::ptr::null_mut(), nargs);
            match status {
                ffi::LUA_YIELD => {
                    let top = ffi::lua_gettop(self.l);
                    let pending = top > 0
                        && ffi::lua_type(self.l, top) == ffi::LUA_TLIGHTUSERDATA
                        && ffi::lua_tolightuserdata(self.l, top) == PENDING;
                    // Yielded values are nobody's: drop them so a resume passes only its own.
                    ffi::lua_settop(self.l, 0);
                    if pending {
                        Resumed::Pending
                    } else {
                        Resumed::Yielded
                    }
                }
                ffi::LUA_OK => Resumed::Returned,
                _ => {
                    let msg = if ffi::lua_type(self.l, -1) == ffi::LUA_TSTRING {
                        let mut len = 0usize;
                        let p = ffi::lua_tolstring(self.l, -1, &mut len);
                        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len))
                            .into_owned()
                    } else if status == ffi::LUA_ERRMEM {
                        "not enough memory".to_string()
                    } else {
                        "error in error handling".to_string()
                    };
                    Resumed::Failed(msg)
                }
            }
        }
    }

    /// The thread as an mlua value (what `coroutine.spawn` returns).
    pub(crate) fn value(self, lua: &Lua) -> mlua::Result<mlua::Thread> {
        let r = self.r;
        // SAFETY: pushes the referenced thread for mlua to convert.
        unsafe {
            lua.exec_raw::<mlua::Thread>((), |l| {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r);
            })
        }
    }

    /// Empties the thread of a process that has ended: frames, upvalues and values gone, its
    /// stack and CallInfo array cut to the smallest sizes now rather than when the collector
    /// frees it (STARLING-PATCHES.md, patch 7). Scripts that still hold it see a dead
    /// coroutine. Only for threads no process can run again.
    pub(crate) fn empty(self) {
        // SAFETY: the thread is alive (referenced) and not running: the engine calls this while
        // dropping an ended process, outside any step of it. `lua_dropthread` checks that the
        // thread is not active, runs in a protected call (a failed reallocation leaves it as
        // it was) and never raises.
        unsafe {
            lua_dropthread(self.l);
        }
    }

    /// Lets go of the thread (its reference): it is collected once nothing else holds it.
    pub(crate) fn release(self) {
        let main = MAIN.get();
        // SAFETY: clears the thread's stack and drops its reference; neither allocates.
        unsafe {
            ffi::lua_settop(self.l, 0);
            if !main.is_null() {
                ffi::lua_unref(main, self.r);
            }
        }
    }

    /// Cuts a thread parked in a C function's yield to the stack and CallInfos it holds, as
    /// the garbage collector does when it next traverses it (STARLING-PATCHES.md, patch 5);
    /// its next resume gives the reserves back. A thread that is not parked that way, or is
    /// already trimmed, is left alone.
    pub(crate) fn trim(self) {
        // SAFETY: the thread is alive (referenced) and suspended, not running: the engine
        // calls this right after `lua_resume` returned. `lua_trimparked` checks the parked
        // state itself, runs the reallocations in a protected call (a failed one leaves the
        // sizes as they were) and never raises; it only moves the thread's own stack and
        // CallInfo array, fixing the pointers into them (open upvalues, frames).
        unsafe {
            lua_trimparked(self.l);
        }
    }

    /// Charges what the thread allocates from now on to memory category `cat`.
    pub(crate) fn set_category(self, cat: c_int) {
        // SAFETY: stores a category number (< 256) in a live thread.
        unsafe { ffi::lua_setmemcat(self.l, cat) }
    }

    /// Bytes the VM holds in memory category `cat` (0 = the VM's own).
    pub(crate) fn category_bytes(self, cat: c_int) -> usize {
        // SAFETY: reads the VM's per-category counters.
        unsafe { ffi::lua_totalbytes(self.l, cat) }
    }
}

/// Registry references to release once it is safe to (they were dropped during a garbage
/// collection, when no table may be written).
pub(crate) fn defer_unref(r: c_int) {
    DEFERRED_UNREFS.with(|d| {
        if let Ok(mut d) = d.try_borrow_mut() {
            d.push(r);
        }
    });
}

/// Releases the deferred references (between steps).
pub(crate) fn release_deferred(lua: &Lua) {
    let refs = DEFERRED_UNREFS.with(|d| d.try_borrow_mut().map(|mut d| std::mem::take(&mut *d)));
    let Ok(refs) = refs else { return };
    let main = MAIN.get();
    if main.is_null() {
        return;
    }
    // SAFETY: `lua_unref` clears a registry slot and links it into the free list; it never
    // allocates, so it needs no protection.
    unsafe {
        for r in &refs {
            ffi::lua_unref(main, *r);
        }
    }
    let _ = lua;
}

/// A registry reference to an mlua value (a string, a table), released with
/// [`unref`] or [`defer_unref`].
pub(crate) fn make_ref(lua: &Lua, v: impl mlua::IntoLua) -> mlua::Result<c_int> {
    // SAFETY: references the value mlua pushed.
    unsafe {
        lua.exec_raw::<c_int>(v, |l| {
            let r = ffi::lua_ref(l, -1);
            ffi::lua_settop(l, 0);
            ffi::lua_pushinteger(l, r as ffi::lua_Integer);
        })
    }
}

/// The value of a registry reference, as an mlua value.
pub(crate) fn get_ref<V: mlua::FromLua>(lua: &Lua, r: c_int) -> mlua::Result<V> {
    // SAFETY: pushes a registry value for mlua to convert.
    unsafe {
        lua.exec_raw::<V>((), |l| {
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, r);
        })
    }
}

/// Releases a registry reference now (outside garbage collection).
pub(crate) fn unref(r: c_int) {
    let main = MAIN.get();
    if !main.is_null() {
        // SAFETY: see `release_deferred`.
        unsafe {
            ffi::lua_unref(main, r);
        }
    }
}

/// `store[key] = v` in the channel store referenced by `store`, from a C function body, for
/// the value at `i` of `stack`; protected, so it may run inside the body (invariant 2).
/// False when it could not be stored (out of memory).
pub(crate) fn store_put(stack: &mut Stack, store: c_int, key: c_int, i: c_int) -> bool {
    unsafe extern "C-unwind" fn put(l: State) -> c_int {
        // SAFETY: called by `lua_pcall` below with (store table, key, value) as arguments.
        unsafe {
            let key = ffi::lua_tonumberx(l, 2, std::ptr::null_mut()) as c_int;
            ffi::lua_settop(l, 3);
            ffi::lua_rawseti_(l, 1, key);
        }
        0
    }
    let l = stack.l;
    // SAFETY: pushes four values within the body's slots and runs `put` protected: an
    // allocation failure comes back as a status instead of unwinding (invariant 2).
    unsafe {
        let i = ffi::lua_absindex(l, i);
        ffi::lua_pushcfunction(l, put);
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
        if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
            ffi::lua_settop(l, -3);
            return false;
        }
        ffi::lua_pushnumber(l, key as f64);
        ffi::lua_pushvalue(l, i);
        let status = ffi::lua_pcall(l, 3, 0, 0);
        if status != ffi::LUA_OK {
            ffi::lua_settop(l, -2);
            return false;
        }
        true
    }
}

/// Moves `from_store[from_key]` to `to_store[to_key]` (a buffered value changing place),
/// protected like [`store_put`].
pub(crate) fn store_move(
    stack: &mut Stack,
    from_store: c_int,
    from_key: c_int,
    to_store: c_int,
    to_key: c_int,
) -> bool {
    let l = stack.l;
    // SAFETY: pushes the value (an existing one) in a body slot, stores it protected, clears
    // the old slot (never allocates) and pops.
    unsafe {
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, from_store);
        if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
            ffi::lua_settop(l, -2);
            return false;
        }
        ffi::lua_rawgeti_(l, -1, from_key);
        let ok = store_put(stack, to_store, to_key, -1);
        ffi::lua_settop(l, -2);
        if ok {
            ffi::lua_pushnil(l);
            ffi::lua_rawseti_(l, -2, from_key);
        }
        ffi::lua_settop(l, -2);
        ok
    }
}

/// Clears `store[key]` (never allocates), from anywhere outside a C function.
pub(crate) fn store_clear(lua: &Lua, store: c_int, key: c_int) {
    // SAFETY: clears a present key (no allocation) inside mlua's protected call.
    unsafe {
        let _ = lua.exec_raw::<()>((), |l| clear_key(l, store, key));
    }
}

/// Clears `store[key]` from a C function body (never allocates, never raises).
pub(crate) fn store_clear_in(stack: &mut Stack, store: c_int, key: c_int) {
    // SAFETY: uses two body slots and restores the stack; clearing a present key does not
    // allocate.
    unsafe {
        let top = ffi::lua_gettop(stack.l);
        clear_key(stack.l, store, key);
        ffi::lua_settop(stack.l, top);
    }
}

/// Pushes `store[key]` onto the body's stack and clears the slot (never allocates); the
/// value stays alive on the stack. Returns its stack index.
pub(crate) fn store_take(stack: &mut Stack, store: c_int, key: c_int) -> c_int {
    let l = stack.l;
    // SAFETY: pushes an existing value (body slots) and clears its slot (no allocation).
    unsafe {
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_rawgeti_(l, -1, key);
            ffi::lua_pushnil(l);
            ffi::lua_rawseti_(l, -3, key);
            ffi::lua_remove(l, -2);
        } else {
            ffi::lua_settop(l, -2);
            ffi::lua_pushnil(l);
        }
        ffi::lua_gettop(l)
    }
}

/// # Safety
/// Leaves the stack as it found it, plus up to two values; never allocates.
unsafe fn clear_key(l: State, store: c_int, key: c_int) {
    // SAFETY: reads the store and clears a present key.
    unsafe {
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_rawgeti_(l, -1, key);
            if ffi::lua_type(l, -1) != ffi::LUA_TNIL {
                ffi::lua_pushnil(l);
                ffi::lua_rawseti_(l, -3, key);
            }
            ffi::lua_settop(l, -2);
        }
        ffi::lua_settop(l, -2);
    }
}

/// `store[key] = v` from outside a C function (a module's wake-up), protected. False when it
/// could not be stored.
pub(crate) fn store_put_value(lua: &Lua, store: c_int, key: c_int, v: mlua::Value) -> bool {
    // SAFETY: inside mlua's protected call: the store and value are on the stack; `rawseti`
    // may allocate, which the protected call catches.
    unsafe {
        lua.exec_raw::<()>(v, |l| {
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                ffi::lua_insert(l, -2);
                ffi::lua_rawseti_(l, -2, key);
            }
            ffi::lua_settop(l, 0);
        })
        .is_ok()
    }
}

/// A new store table, referenced from the registry.
pub(crate) fn new_store(lua: &Lua, narr: usize) -> mlua::Result<c_int> {
    // SAFETY: inside mlua's protected call.
    unsafe {
        lua.exec_raw::<c_int>((), |l| {
            ffi::lua_createtable(l, narr.min(64) as c_int, 0);
            let r = ffi::lua_ref(l, -1);
            ffi::lua_settop(l, 0);
            ffi::lua_pushinteger(l, r as ffi::lua_Integer);
        })
    }
}

/// Empties a store (an ending process's channel: breaks cycles through its values).
pub(crate) fn clear_store(lua: &Lua, store: c_int) {
    // SAFETY: `lua_cleartable` empties a table without allocating.
    unsafe {
        let _ = lua.exec_raw::<()>((), |l| {
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, store);
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE && ffi::lua_getreadonly(l, -1) == 0 {
                ffi::lua_cleartable(l, -1);
            }
            ffi::lua_settop(l, 0);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Userdata tags
// ---------------------------------------------------------------------------------------------

/// Destructor of tag `T::TAG`: drops the Rust value (never calls Luau, never unwinds).
unsafe extern "C" fn drop_tagged<T: Tagged>(_l: State, ud: *mut c_void) {
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: Luau calls the destructor once, for a userdata of this tag, whose storage
        // holds the `T` written at creation (invariant 5).
        unsafe { std::ptr::drop_in_place(ud as *mut T) }
    }));
    // A panic while dropping leaks what was left; it must not unwind into the collector.
    drop(dropped);
}

/// Sets the destructor and metatable of tag `T::TAG`: every userdata of the tag gets `meta`.
pub(crate) fn register_tag<T: Tagged>(lua: &Lua, meta: &mlua::Table) -> mlua::Result<()> {
    // SAFETY: sets the tag's destructor and metatable on the state mlua hands us.
    unsafe {
        lua.exec_raw::<()>(meta, |l| {
            ffi::lua_setuserdatadtor(l, T::TAG, Some(drop_tagged::<T>));
            ffi::lua_setuserdatametatable(l, T::TAG);
        })
    }
}

/// The metatable of a value, even a protected one (for the API listing probe).
pub(crate) fn raw_metatable(lua: &Lua, v: mlua::Value) -> mlua::Result<Option<mlua::Table>> {
    // SAFETY: reads the metatable of the value mlua pushed (no allocation).
    unsafe {
        lua.exec_raw::<Option<mlua::Table>>(v, |l| {
            if ffi::lua_getmetatable(l, -1) == 0 {
                ffi::lua_pushnil(l);
            }
            ffi::lua_remove(l, -2);
        })
    }
}

/// Whether a userdata tag is one of Starling's tagged types (invariant 5). None of them
/// crosses a process boundary: a payload copy makes them nil.
fn is_ours(tag: c_int) -> bool {
    (TAG_CHAN..=TAG_DURATION).contains(&tag)
}

/// The tag of a userdata value (mlua's own userdata have tag 0 or 1), or `None`.
pub(crate) fn tag_of(lua: &Lua, v: &mlua::Value) -> Option<c_int> {
    if !matches!(v, mlua::Value::UserData(_)) {
        return None;
    }
    // SAFETY: reads the tag of the userdata mlua pushed; no allocation.
    unsafe {
        lua.exec_raw::<c_int>(v, |l| {
            let tag = ffi::lua_userdatatag(l, -1);
            ffi::lua_pushinteger(l, tag as i64);
            ffi::lua_remove(l, -2);
        })
        .ok()
    }
}

/// A copy of the `T` in a tagged userdata value, or `None` if `v` holds no `T` (the slow
/// paths' way to read the values the raw functions make).
pub(crate) fn tagged<T: Tagged + Clone>(lua: &Lua, v: &mlua::Value) -> Option<T> {
    if !matches!(v, mlua::Value::UserData(_)) {
        return None;
    }
    // SAFETY: mlua pushes the value; the pointer read is to the `T` written at creation when
    // the tag is `T::TAG` (invariant 5), else null. The userdata stays alive after the call,
    // held by `v`, so the pointer is valid while the copy is made.
    unsafe {
        let p = lua
            .exec_raw::<mlua::LightUserData>(v, |l| {
                let p = ffi::lua_touserdatatagged(l, -1, T::TAG);
                ffi::lua_pushlightuserdata(l, p);
                ffi::lua_remove(l, -2);
            })
            .ok()?;
        (p.0 as *const T).as_ref().cloned()
    }
}

/// Makes a tagged userdata holding `value` (outside a C function; for values installed once).
pub(crate) fn new_udata<T: Tagged>(lua: &Lua, value: T) -> mlua::Result<mlua::AnyUserData> {
    new_udata_charged(lua, value, 0)
}

/// Like [`new_udata`], with `extra` unused bytes after the value: what the value costs
/// outside Lua (a timer's heap entry and state), counted against the VM's memory limit for
/// as long as the userdata lives.
pub(crate) fn new_udata_charged<T: Tagged>(
    lua: &Lua,
    value: T,
    extra: usize,
) -> mlua::Result<mlua::AnyUserData> {
    let mut slot = Some(value);
    // SAFETY: creates the userdata inside mlua's protected call (see `push_udata`); the value
    // is moved in only once the storage exists. The storage is at least `size_of::<T>()`
    // bytes; the bytes after the value are never read.
    unsafe {
        lua.exec_raw::<mlua::AnyUserData>((), |l| {
            const { assert!(std::mem::align_of::<T>() <= 8) };
            let p = ffi::lua_newuserdatataggedwithmetatable(
                l,
                std::mem::size_of::<T>() + extra,
                T::TAG,
            );
            if let Some(v) = slot.take() {
                std::ptr::write(p as *mut T, v);
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The VM: creation, safe environments, the interrupt
// ---------------------------------------------------------------------------------------------

/// Creates a VM with the standard libraries Starling exposes (the debug library is loaded so
/// the prelude can capture `debug.traceback`; it is removed from the globals afterwards), the
/// interrupt, and the scratch thread of the encoder.
pub(crate) fn new_lua() -> mlua::Result<Lua> {
    let libs = StdLib::COROUTINE
        | StdLib::TABLE
        | StdLib::OS
        | StdLib::STRING
        | StdLib::BIT
        | StdLib::MATH
        | StdLib::DEBUG;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    // SAFETY: sets the VM-wide interrupt (invariant 6) and makes the scratch thread, grown once
    // and kept alive by a registry reference for the VM's life.
    let (scratch, main, maker) = unsafe {
        lua.exec_raw::<(mlua::LightUserData, mlua::LightUserData, c_int)>((), |l| {
            (*ffi::lua_callbacks(l)).interrupt = Some(interrupt);
            let s = ffi::lua_newthread(l);
            ffi::lua_ref(l, -1);
            ffi::lua_settop(l, 0);
            ffi::lua_checkstack(s, SCRATCH_SLOTS + 8);
            ffi::lua_pushcfunction(l, make);
            let maker = ffi::lua_ref(l, -1);
            ffi::lua_settop(l, 0);
            ffi::lua_pushlightuserdata(l, s as *mut c_void);
            ffi::lua_pushlightuserdata(l, ffi::lua_mainthread(l) as *mut c_void);
            ffi::lua_pushinteger(l, maker as i64);
        })?
    };
    SCRATCH.set(scratch.0 as State);
    MAIN.set(main.0 as State);
    MAKER.set(maker);
    // SAFETY: interns each key and keeps it by a registry reference for the VM's life (this
    // thread's VM: invariant 1); setting the thread-local cannot panic.
    unsafe {
        lua.exec_raw::<()>((), |l| {
            let mut refs = [ffi::LUA_NOREF; EVENT_STRINGS.len()];
            for (r, name) in refs.iter_mut().zip(EVENT_STRINGS) {
                ffi::lua_pushstring(l, name.as_ptr());
                *r = ffi::lua_ref(l, -1);
                ffi::lua_settop(l, -2);
            }
            EVENT_KEYS.set(refs);
        })?
    };
    Ok(lua)
}

/// Whether running `chunk` can only make values: no call, no global read or write (see
/// STARLING-PATCHES.md, patch 6). Such a chunk's results are the same on every run, so an
/// entry whose method also captures nothing needs the chunk run only once per VM.
pub(crate) fn chunk_is_inert(lua: &Lua, chunk: &mlua::Function) -> mlua::Result<bool> {
    // SAFETY: reads the code of the function mlua pushed; `lua_isinertchunk` never raises
    // or allocates.
    unsafe {
        lua.exec_raw::<bool>(chunk, |l| {
            ffi::lua_pushboolean(l, lua_isinertchunk(l, -1));
            ffi::lua_remove(l, -2);
        })
    }
}

/// Marks a table as a "safe environment", so Luau may use the import constants resolved when
/// the chunk was loaded (resolved against the entry's template, which the table reads
/// through to).
pub(crate) fn set_safe_env(lua: &Lua, env: &mlua::Table) -> mlua::Result<()> {
    // SAFETY: the table is the single argument mlua pushed; this only flags it.
    unsafe { lua.exec_raw::<()>(env, |l| ffi::lua_setsafeenv(l, -1, 1)) }
}

/// How long a process may run before it is preempted (SPEC §4.5: about 1 ms).
pub(crate) const SLICE: Duration = Duration::from_millis(1);

/// Interrupts between clock checks. Interrupts fire at calls and loop back-edges, a few
/// nanoseconds of work each, so 1024 of them cost far less than the slice.
const CHECK_EVERY: i32 = 1024;

/// Preemption stress mode for testing the scheduler: with `STARLING_STRESS_PREEMPT=1` in the
/// environment, a task is preempted at every second interrupt point (never twice in a row, so
/// the re-executed instruction always makes progress).
fn stress() -> bool {
    static STRESS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRESS.get_or_init(|| std::env::var_os("STARLING_STRESS_PREEMPT").is_some_and(|v| v == "1"))
}

fn check_every() -> i32 {
    if stress() { 2 } else { CHECK_EVERY }
}

/// The slice of the task being run (one slice covers a whole step of a process).
#[derive(Copy, Clone)]
struct SliceState {
    /// The task's root thread: the only thread that may be preempted.
    task: *const c_void,
    started: Instant,
    /// Set when the running process must stop (terminate, shutdown).
    kill: bool,
    /// Set by the interrupt when it preempted `task`.
    preempted: bool,
    /// Set by the interrupt when the heap crossed the arming size (the memory limit must be
    /// armed).
    arm: bool,
    limit: usize,
    /// CPU time code may use without being able to yield before it is ended.
    watchdog: Duration,
    /// The thread's CPU time when this slice first ran past [`SLICE`] where it could not be
    /// suspended (read only then: reading it costs a system call).
    stuck_since: Option<Duration>,
    /// Pid number of the running process (see [`set_kill_switch`]).
    pid: u64,
}

thread_local! {
    static SLICE_STATE: Cell<Option<SliceState>> = const { Cell::new(None) };
    /// Counts interrupts down to the next full check (kept apart from the slice: the fast path
    /// touches one integer).
    static COUNTDOWN: Cell<i32> = const { Cell::new(CHECK_EVERY) };
    /// Heap size at which the interrupt asks for the memory limit to be armed, and the limit.
    static ARM_AT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Set by a collection step that found the heap past the arming size.
    static ARM_PENDING: Cell<bool> = const { Cell::new(false) };
    /// Set from any thread to the pid number of a process of this worker that must stop now.
    static KILL_SWITCH: RefCell<Option<std::sync::Arc<std::sync::atomic::AtomicU64>>> =
        const { RefCell::new(None) };
}

/// Sets the heap size at which the interrupt ends a step so the engine arms the memory limit
/// (0 = never), and the limit past which it raises where it cannot end the step.
pub(crate) fn set_arm_at(arm_at: usize, limit: usize) {
    ARM_AT.set((arm_at, limit));
}

/// Installs the switch another thread sets (to a pid number) to stop that process of this
/// worker even while it runs code that never yields (see `Local::kill_switch`).
pub(crate) fn set_kill_switch(flag: std::sync::Arc<std::sync::atomic::AtomicU64>) {
    KILL_SWITCH.with(|k| {
        if let Ok(mut k) = k.try_borrow_mut() {
            *k = Some(flag);
        }
    });
}

fn kill_switched(pid: u64) -> bool {
    KILL_SWITCH.with(|k| {
        k.try_borrow().is_ok_and(|k| {
            k.as_ref().is_some_and(|f| {
                let v = f.load(std::sync::atomic::Ordering::Relaxed);
                v == pid || v == starling_core::KILL_ALL
            })
        })
    })
}

/// Runs the task whose root thread is `task`, of the process numbered `pid`, within the
/// slice that began at `started`.
pub(crate) fn begin_slice(task: Option<Thread>, pid: u64, started: Instant, watchdog: Duration) {
    let limit = ARM_AT.get().1;
    COUNTDOWN.set(check_every());
    SLICE_STATE.set(Some(SliceState {
        task: task.map_or(std::ptr::null(), Thread::id),
        started,
        kill: false,
        preempted: false,
        arm: false,
        limit,
        watchdog,
        stuck_since: None,
        pid,
    }));
}

/// True while a slice runs (a step, or a spawn inside one).
pub(crate) fn in_slice() -> bool {
    SLICE_STATE.get().is_some()
}

/// Ends the current slice; returns whether the interrupt preempted the task.
pub(crate) fn end_slice() -> bool {
    SLICE_STATE.take().is_some_and(|st| st.preempted)
}

/// Asks the running slice to stop at the next interrupt.
pub(crate) fn request_kill() {
    if let Some(mut st) = SLICE_STATE.get() {
        st.kill = true;
        SLICE_STATE.set(Some(st));
        COUNTDOWN.set(0);
    }
}

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes the `timespec` we own; CLOCK_THREAD_CPUTIME_ID is
    // supported on every Linux and macOS version Starling runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The message of the error that ends code which ran too long where it could not yield.
fn watchdog_message(l: State, ran: Duration) -> String {
    // SAFETY: reads the name of the running function from the debug info (no allocation).
    let name = unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getinfo(l, 0, c"sn".as_ptr(), &mut ar) != 0 {
            let what = if ar.name.is_null() {
                None
            } else {
                Some(
                    std::ffi::CStr::from_ptr(ar.name)
                        .to_string_lossy()
                        .into_owned(),
                )
            };
            let src = if ar.short_src.is_null() {
                String::from("?")
            } else {
                std::ffi::CStr::from_ptr(ar.short_src)
                    .to_string_lossy()
                    .into_owned()
            };
            match what {
                Some(n) => format!("function '{n}' ({src})"),
                None => src,
            }
        } else {
            String::from("?")
        }
    };
    format!(
        "process ran {} ms of CPU without yielding (in {name}): ended by the watchdog \
         (host.watchdog)",
        ran.as_millis()
    )
}

unsafe extern "C-unwind" fn interrupt(l: State, gc: c_int) {
    // gc >= 0: a garbage collection step; -1: a VM interrupt point, or a check inside C code
    // (pattern matching) that Luau makes non-yieldable. The VM calls this at every call and
    // loop back edge, so the countdown is all that runs here; the rest is out of line.
    if gc < 0 {
        let left = COUNTDOWN.get() - 1;
        if left > 0 {
            COUNTDOWN.set(left);
            return;
        }
    }
    // SAFETY: the same call, from Luau, with the same arguments.
    unsafe { interrupt_slow(l, gc) }
}

/// [`interrupt`] past its countdown, or at a collection step.
#[cold]
#[inline(never)]
unsafe extern "C-unwind" fn interrupt_slow(l: State, gc: c_int) {
    if gc >= 0 {
        // Collection steps come with allocation, so the heap is checked here, not at every
        // instruction: a loop doubling a string is caught after a few steps all the same.
        let arm_at = ARM_AT.get().0;
        // SAFETY: `l` is a thread of this VM; this only reads the heap size.
        if arm_at > 0 && unsafe { ffi::lua_totalbytes(l, -1) } >= arm_at {
            ARM_PENDING.set(true);
            COUNTDOWN.set(0);
        }
        return;
    }
    COUNTDOWN.set(check_every());
    let Some(mut st) = SLICE_STATE.get() else {
        return;
    };
    let heap = if ARM_PENDING.replace(false) {
        // End the step so the engine arms the hard limit.
        st.arm = true;
        // SAFETY: reads the heap size.
        unsafe { ffi::lua_totalbytes(l, -1) }
    } else {
        0
    };
    if !st.kill && kill_switched(st.pid) {
        st.kill = true;
    }
    let ran = st.started.elapsed();
    let over = st.kill || st.arm || stress() || ran >= SLICE;
    if !over {
        SLICE_STATE.set(Some(st));
        return;
    }
    // Only the task's own thread, at an interrupt point of the VM, can be suspended: a user
    // coroutine's yield would go to its resumer, and C code cannot yield at all.
    // SAFETY: `l` is the running thread, handed to us by Luau.
    let preemptible =
        l as *const c_void == st.task && gc == -1 && unsafe { ffi::lua_isyieldable(l) } != 0;
    if preemptible {
        st.preempted = true;
        SLICE_STATE.set(Some(st));
        // SAFETY: yielding from an interrupt at a yieldable point is supported by Luau; the
        // interrupted instruction is re-executed when the thread is resumed.
        unsafe { ffi::lua_yield(l, 0) };
        return;
    }
    // CPU time, not wall time, for the watchdog: a thread the OS did not run for a while (a
    // busy machine) has not used its budget.
    let stuck = if !preemptible && ran >= SLICE {
        let now = thread_cpu_time();
        let since = *st.stuck_since.get_or_insert(now);
        now.saturating_sub(since) + SLICE
    } else {
        Duration::ZERO
    };
    SLICE_STATE.set(Some(st));
    if st.arm && heap > st.limit {
        // Past the limit where the step cannot be suspended: fail as the allocator would
        // have. Nothing Rust owns is alive here.
        // SAFETY: raising from the interrupt is how Luau aborts running code. The message is
        // the allocator's own, so the engine knows it.
        unsafe {
            ffi::lua_pushstring_(l, c"not enough memory".as_ptr());
            ffi::lua_error(l);
        }
    }
    if st.kill {
        // A loop that cannot be suspended (a user coroutine, a metamethod, a pattern): end it
        // with an error instead.
        // SAFETY: as above.
        unsafe { ffi::luaL_error(l, c"process terminated".as_ptr()) };
    }
    if stuck >= st.watchdog {
        let msg = watchdog_message(l, stuck);
        // SAFETY: as above; the message is copied into Luau before the Rust string goes.
        unsafe {
            ffi::lua_pushlstring_(l, msg.as_ptr() as *const c_char, msg.len());
            drop(msg);
            ffi::lua_error(l);
        }
    }
}

#[cfg(test)]
mod luau_tests {
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
    fn on_thread(
        co: &Thread,
        f: unsafe extern "C-unwind" fn(*mut ffi::lua_State) -> c_int,
    ) -> c_int {
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
}
