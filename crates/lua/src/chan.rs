//! Channels inside a process (SPEC §7): Go semantics, plus the inbox, events and `listen`
//! channels whose values come from the worker's queues.
//!
//! # Guarantees
//! - Unbuffered send completes only when a receiver takes the value; buffered send waits only
//!   while the buffer is full.
//! - Receivers and senders are served in arrival order; a select registers on every case and
//!   the first case to complete wins, the others are withdrawn at once.
//! - `close` wakes every waiting receiver with `nil, false` and makes every waiting sender
//!   raise; buffered values stay receivable.
//! - The inbox/events/listen channels are unbuffered views of queues kept by the worker: a
//!   queued message counts as ready (SPEC §5.3, §11.6).
//! - A buffer, and the queue of senders blocked on a channel, are bounded by memory only: their
//!   values are kept in a Lua table (the channel's *store*), counted against the VM's memory
//!   limit like any Lua data. Between steps a channel holds one registry key for its store,
//!   however many values it keeps; during a step, at most [`INLINE_MAX`] values per VM are held
//!   from Rust. Rust-held values each take a slot of mlua's reference stack, which all
//!   processes of a worker share and which ends near a million slots.
//! - A store is released when its channel is dropped (the registry key is expired after the
//!   step in which that happened) and emptied when its process ends, even if its values still
//!   reference the channel (see [`ChanState::release_process`]).
//!
//! # Where values are kept
//! Going through the store costs a few mlua calls per value, more than the rest of a send;
//! coroutines trading values over a channel, or a small buffer filled and drained within a
//! step, would pay it on every value. So a value is first kept *inline*, as an mlua value in
//! Rust, while the channel keeps fewer than [`INLINE_PER_CHAN`] of them and the VM fewer than
//! [`INLINE_MAX`]; every channel that has inline values is listed with its process, and
//! [`spill`] moves what is still inline into the stores after each step of the process. Values
//! usually come and go within the step, so most never touch a store.
//!
//! The buffer is the stored values (the oldest) followed by the inline ones: a value is stored
//! only once the inline ones before it were (`spill_buffer`), which keeps FIFO order. The stored
//! part is a ring at keys `1..=cap`: ring position `i` (0-based) sits at key `i + 1`, so a full
//! buffer is a dense array part. A blocked sender's value is inline or at a negative key of
//! its own (`-1`, `-2`, … never reused), because a select's registration can be withdrawn from
//! the middle of the queue. A store is made on the first value that has to be stored, so most
//! channels never make one.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use mlua::{AnyUserData, Lua, MetaMethod, RegistryKey, Table, UserData, UserDataMethods, Value};

use crate::engine::Ctx;
use crate::task::ProcState;

/// Where a channel's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChanKind {
    /// `channel.new` and `time.after`.
    User,
    /// `process.inbox()`.
    Inbox,
    /// `process.events()`.
    Events,
    /// `process.listen(topic)`; `raw` = deliver values instead of Message objects.
    Listen { topic: Box<str>, raw: bool },
}

/// A task parked on a channel.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Waiter {
    pub(crate) task: u32,
    pub(crate) wait: u64,
    pub(crate) case: u32,
}

/// Inline values (see the module docs) one channel may hold.
pub(crate) const INLINE_PER_CHAN: usize = 64;

/// Inline values all channels of a VM may hold at once: a step that buffers more stores them.
pub(crate) const INLINE_MAX: usize = 4096;

/// The store's first array size (at most `cap`): room for a small buffer without growing, and
/// a bounded first cost for a huge `cap`, whose store grows as it fills.
const STORE_PREALLOC: usize = 64;

/// Store tables kept at hand during a step (see [`HOT_STORES`]).
const HOT_STORES_MAX: usize = 4;

// Per-thread state is per-VM state: a worker thread runs one VM.
thread_local! {
    /// Inline values held by all channels.
    static INLINE: Cell<usize> = const { Cell::new(0) };
    /// The stores used last in the current step, by store id: looking a store up in the
    /// registry makes (and later drops) an mlua handle, which costs more than the table
    /// operation itself. Emptied after every step, so at most [`HOT_STORES_MAX`] handles exist
    /// at any time and none outlives a step. Ids are never reused, so an entry of a channel
    /// dropped meanwhile is never mistaken for another's.
    static HOT_STORES: RefCell<Vec<(u64, Table)>> = const { RefCell::new(Vec::new()) };
    /// Whether [`HOT_STORES`] may hold handles (a plain flag is cheaper to look at after every
    /// step than the list).
    static HOT_USED: Cell<bool> = const { Cell::new(false) };
    static NEXT_STORE_ID: Cell<u64> = const { Cell::new(1) };
    /// Set when a channel with a store was dropped: its registry key waits in mlua's unref
    /// list, and the store (with every value in it) stays reachable until the key is expired.
    /// A drop can happen inside a garbage collection, no place to call into Lua from, so it
    /// only raises this flag; [`end_step`] acts on it.
    static STORE_DROPPED: Cell<bool> = const { Cell::new(false) };
}

/// A process's channel bookkeeping.
#[derive(Default)]
pub(crate) struct ProcChans {
    /// A weak-keyed set of the stores of the process's channels, made with the first store:
    /// [`ChanState::release_process`] empties them.
    stores: Option<RegistryKey>,
    /// Channels holding values inline until [`spill`].
    inlined: Vec<Rc<RefCell<ChanState>>>,
}

/// The weak-keyed set of `p`'s channel stores, made on first use. Weak keys: a store leaves it
/// when its channel is collected.
fn stores_of(lua: &Lua, p: &ProcState) -> mlua::Result<Table> {
    if let Some(key) = p.chans.borrow().as_ref().and_then(|c| c.stores.as_ref()) {
        return lua.registry_value(key);
    }
    const META: &str = "starling.weak_keys";
    let meta = match lua.named_registry_value::<Option<Table>>(META)? {
        Some(meta) => meta,
        None => {
            let meta = lua.create_table()?;
            meta.raw_set("__mode", "k")?;
            lua.set_named_registry_value(META, &meta)?;
            meta
        }
    };
    let stores = lua.create_table()?;
    stores.set_metatable(Some(meta))?;
    let key = lua.create_registry_value(&stores)?;
    p.chans.borrow_mut().get_or_insert_default().stores = Some(key);
    Ok(stores)
}

/// Stores the values `p`'s channels still hold inline: after each step of `p`, and after its
/// chunk ran at spawn. Values that cannot be stored (out of memory) stay inline until the next
/// time. Inlined: the engine calls it after every step, and there is rarely anything to do.
#[inline]
pub(crate) fn spill(lua: &Lua, p: &ProcState) {
    if p.chans
        .borrow()
        .as_ref()
        .is_some_and(|c| !c.inlined.is_empty())
    {
        spill_listed(lua, p);
    }
}

fn spill_listed(lua: &Lua, p: &ProcState) {
    let listed = match p.chans.borrow_mut().as_mut() {
        Some(c) => std::mem::take(&mut c.inlined),
        None => return,
    };
    let mut failed = Vec::new();
    for st in listed {
        let spilled = st.borrow_mut().spill_all(lua, p);
        match spilled {
            Ok(()) => st.borrow_mut().listed = false,
            Err(_) => failed.push(st),
        }
    }
    if !failed.is_empty() {
        p.chans
            .borrow_mut()
            .get_or_insert_default()
            .inlined
            .extend(failed);
    }
}

/// Ends a step (or a spawn): lets go of the hot stores and expires the registry keys of stores
/// whose channels were dropped. Inlined, like [`spill`].
#[inline]
pub(crate) fn end_step(lua: &Lua) {
    if HOT_USED.get() || STORE_DROPPED.get() {
        end_step_slow(lua);
    }
}

fn end_step_slow(lua: &Lua) {
    if HOT_USED.replace(false) {
        HOT_STORES.with_borrow_mut(|hot| hot.clear());
    }
    if STORE_DROPPED.replace(false) {
        lua.expire_registry_values();
    }
}

/// A channel's store: the Lua table and, for the registry, its key.
struct Store {
    id: u64,
    key: RegistryKey,
}

impl Store {
    fn table(&self, lua: &Lua) -> mlua::Result<Table> {
        let hit = HOT_STORES.with_borrow(|hot| {
            hot.iter()
                .find(|(id, _)| *id == self.id)
                .map(|(_, t)| t.clone())
        });
        if let Some(t) = hit {
            return Ok(t);
        }
        let t: Table = lua.registry_value(&self.key)?;
        HOT_STORES.with_borrow_mut(|hot| {
            if hot.len() == HOT_STORES_MAX {
                hot.remove(0);
            }
            hot.push((self.id, t.clone()));
        });
        HOT_USED.set(true);
        Ok(t)
    }
}

/// A blocked sender's value.
enum Slot {
    Inline(Value),
    /// The key in the store.
    Stored(i64),
}

/// Channel state.
pub(crate) struct ChanState {
    pub(crate) kind: ChanKind,
    cap: usize,
    closed: bool,
    /// Listed in its process's `inlined` (see [`spill`]).
    listed: bool,
    /// Ring position of the oldest stored value, `< cap` (0 when unbuffered).
    head: usize,
    /// Buffered values in the store: the oldest ones.
    stored: usize,
    /// Buffered values held inline: the newest ones.
    inline: VecDeque<Value>,
    /// Inline values: `inline` and the inline blocked senders' values.
    inlined: usize,
    /// The last store key given to a blocked sender's value (they count down from -1).
    last_send_key: i64,
    store: Option<Store>,
    recvq: VecDeque<Waiter>,
    sendq: VecDeque<(Waiter, Slot)>,
}

impl Drop for ChanState {
    fn drop(&mut self) {
        if self.store.is_some() {
            STORE_DROPPED.set(true);
        }
        // Only when its process ended without storing them (its list kept the channel alive
        // until then): the count must stay right.
        if self.inlined > 0 {
            INLINE.set(INLINE.get().saturating_sub(self.inlined));
        }
    }
}

impl ChanState {
    pub(crate) fn new(kind: ChanKind, cap: usize) -> Rc<RefCell<ChanState>> {
        Rc::new(RefCell::new(ChanState {
            kind,
            cap,
            closed: false,
            listed: false,
            head: 0,
            stored: 0,
            inline: VecDeque::new(),
            inlined: 0,
            last_send_key: 0,
            store: None,
            recvq: VecDeque::new(),
            sendq: VecDeque::new(),
        }))
    }

    /// Buffered values.
    fn len(&self) -> usize {
        self.stored + self.inline.len()
    }

    /// The channel's store, made on first use and registered with its process (`p`) so that
    /// [`ChanState::release_process`] finds it.
    fn store(&mut self, lua: &Lua, p: &ProcState) -> mlua::Result<Table> {
        if let Some(store) = &self.store {
            return store.table(lua);
        }
        let t = lua.create_table_with_capacity(self.cap.min(STORE_PREALLOC), 0)?;
        stores_of(lua, p)?.raw_set(&t, true)?;
        let id = NEXT_STORE_ID.replace(NEXT_STORE_ID.get() + 1);
        self.store = Some(Store {
            id,
            key: lua.create_registry_value(&t)?,
        });
        Ok(t)
    }

    /// The store of a channel that has stored a value.
    fn existing_store(&self, lua: &Lua) -> mlua::Result<Table> {
        match &self.store {
            Some(store) => store.table(lua),
            None => Err(mlua::Error::runtime("channel store missing")),
        }
    }

    /// Store key of ring position `head + i`.
    fn ring_key(&self, i: usize) -> i64 {
        let pos = self.head + i;
        let pos = if pos >= self.cap { pos - self.cap } else { pos };
        pos as i64 + 1
    }

    /// Whether one more value may be held inline; lists the channel (`st`) with its process
    /// for [`spill`] if so.
    fn may_inline(&mut self, p: &ProcState, st: &Rc<RefCell<ChanState>>) -> bool {
        if self.inlined >= INLINE_PER_CHAN || INLINE.get() >= INLINE_MAX {
            return false;
        }
        if !self.listed {
            self.listed = true;
            p.chans
                .borrow_mut()
                .get_or_insert_default()
                .inlined
                .push(st.clone());
        }
        true
    }

    fn count_inline(&mut self, n: isize) {
        self.inlined = self.inlined.wrapping_add_signed(n);
        INLINE.set(INLINE.get().wrapping_add_signed(n));
    }

    /// Appends to the buffer (the caller checked there is room). `st` is this channel.
    fn push_buffer(
        &mut self,
        lua: &Lua,
        p: &ProcState,
        st: &Rc<RefCell<ChanState>>,
        v: &Value,
    ) -> mlua::Result<()> {
        if self.may_inline(p, st) {
            self.inline.push_back(v.clone());
            self.count_inline(1);
            return Ok(());
        }
        // Stored values come first: the inline ones go before this one.
        self.spill_buffer(lua, p)?;
        let key = self.ring_key(self.stored);
        self.store(lua, p)?.raw_set(key, v)?;
        self.stored += 1;
        Ok(())
    }

    /// Takes the oldest buffered value (the caller checked there is one).
    fn pop_buffer(&mut self, lua: &Lua) -> mlua::Result<Value> {
        if self.stored == 0 {
            let v = self.inline.pop_front();
            if v.is_some() {
                self.count_inline(-1);
            }
            return Ok(v.unwrap_or(Value::Nil));
        }
        let v = take(&self.existing_store(lua)?, self.ring_key(0))?;
        self.head = if self.head + 1 == self.cap {
            0
        } else {
            self.head + 1
        };
        self.stored -= 1;
        Ok(v)
    }

    /// Moves the inline buffered values to the store.
    fn spill_buffer(&mut self, lua: &Lua, p: &ProcState) -> mlua::Result<()> {
        if self.inline.is_empty() {
            return Ok(());
        }
        let store = self.store(lua, p)?;
        while let Some(v) = self.inline.front() {
            store.raw_set(self.ring_key(self.stored), v)?;
            self.stored += 1;
            self.inline.pop_front();
            self.count_inline(-1);
        }
        Ok(())
    }

    /// Moves every inline value to the store (see [`spill`]).
    fn spill_all(&mut self, lua: &Lua, p: &ProcState) -> mlua::Result<()> {
        if self.inlined == 0 {
            return Ok(());
        }
        self.spill_buffer(lua, p)?;
        if self.inlined == 0 {
            return Ok(());
        }
        let store = self.store(lua, p)?;
        for i in 0..self.sendq.len() {
            if let (_, Slot::Inline(v)) = &self.sendq[i] {
                let key = self.last_send_key - 1;
                store.raw_set(key, v)?;
                self.last_send_key = key;
                self.sendq[i].1 = Slot::Stored(key);
                self.count_inline(-1);
            }
        }
        Ok(())
    }

    /// Drops every inline value (its process has ended).
    fn drop_inline(&mut self) {
        self.inline.clear();
        self.sendq
            .retain(|(_, slot)| !matches!(slot, Slot::Inline(_)));
        self.count_inline(-(self.inlined as isize));
        self.listed = false;
    }

    /// Takes a blocked sender's value.
    fn take_slot(&mut self, lua: &Lua, slot: Slot) -> mlua::Result<Value> {
        match slot {
            Slot::Inline(v) => {
                self.count_inline(-1);
                Ok(v)
            }
            Slot::Stored(key) => take(&self.existing_store(lua)?, key),
        }
    }

    /// Drops a blocked sender's value; cannot fail (see [`remove`]).
    fn drop_slot(&mut self, lua: &Lua, slot: Slot) {
        match slot {
            Slot::Inline(_) => self.count_inline(-1),
            Slot::Stored(key) => {
                // Should the lookup fail, the value stays until the store goes with its
                // channel.
                if let Ok(store) = self.existing_store(lua) {
                    remove(&store, key);
                }
            }
        }
    }

    /// Withdraws every registration of `task` for wait `wait`, with the values of its send
    /// cases.
    pub(crate) fn forget(&mut self, lua: &Lua, task: u32, wait: u64) {
        let mine = |w: &Waiter| w.task == task && w.wait == wait;
        self.recvq.retain(|w| !mine(w));
        if !self.sendq.iter().any(|(w, _)| mine(w)) {
            return;
        }
        for (w, slot) in std::mem::take(&mut self.sendq) {
            if mine(&w) {
                self.drop_slot(lua, slot);
            } else {
                self.sendq.push_back((w, slot));
            }
        }
    }

    /// Drops buffered values (a reset timer's stale tick).
    pub(crate) fn clear_buffer(&mut self, lua: &Lua) {
        let n = self.inline.len();
        self.inline.clear();
        self.count_inline(-(n as isize));
        if self.stored > 0 {
            if let Ok(store) = self.existing_store(lua) {
                for i in 0..self.stored {
                    remove(&store, self.ring_key(i));
                }
            }
        }
        self.head = 0;
        self.stored = 0;
    }

    pub(crate) fn push_receiver(&mut self, w: Waiter) {
        // Usually one waiter (the process's own receive): grow one slot at a time.
        if self.recvq.len() == self.recvq.capacity() {
            self.recvq.reserve_exact(self.recvq.len().max(1));
        }
        self.recvq.push_back(w);
    }

    pub(crate) fn is_special(&self) -> bool {
        self.kind != ChanKind::User
    }

    /// Drops stale receivers at the front; true when a live one remains.
    fn has_live_receiver(&mut self, p: &ProcState) -> bool {
        while let Some(w) = self.recvq.front() {
            if p.is_waiting(w.task, w.wait) {
                return true;
            }
            self.recvq.pop_front();
        }
        false
    }

    /// Empties every store of an ending process. Most stores go with their channels when those
    /// are collected, but a store whose values reference its own channel (directly or through
    /// other channels) keeps that channel alive through the registry: only emptying it breaks
    /// the cycle. The channels are unreachable by then (channels never leave their process).
    pub(crate) fn release_process(lua: &Lua, p: &ProcState) -> mlua::Result<()> {
        // Inline values too: they are held from Rust, beyond the collector's reach.
        let listed = p
            .chans
            .borrow_mut()
            .as_mut()
            .map(|c| std::mem::take(&mut c.inlined));
        for st in listed.into_iter().flatten() {
            st.borrow_mut().drop_inline();
        }
        let stores = match p.chans.borrow().as_ref().and_then(|c| c.stores.as_ref()) {
            Some(key) => lua.registry_value::<Table>(key)?,
            None => return Ok(()),
        };
        stores.for_each::<Table, Value>(|t, _| t.clear())?;
        stores.clear()
    }
}

/// Queues a blocked sender on `st`, keeping its value.
pub(crate) fn push_sender(
    lua: &Lua,
    p: &ProcState,
    st: &Rc<RefCell<ChanState>>,
    w: Waiter,
    v: &Value,
) -> mlua::Result<()> {
    let mut s = st.borrow_mut();
    let slot = if s.may_inline(p, st) {
        s.count_inline(1);
        Slot::Inline(v.clone())
    } else {
        let key = s.last_send_key - 1;
        s.store(lua, p)?.raw_set(key, v)?;
        s.last_send_key = key;
        Slot::Stored(key)
    };
    if s.sendq.len() == s.sendq.capacity() {
        let n = s.sendq.len().max(1);
        s.sendq.reserve_exact(n);
    }
    s.sendq.push_back((w, slot));
    Ok(())
}

/// Takes `store[key]` out: returns it and clears the key.
fn take(store: &Table, key: i64) -> mlua::Result<Value> {
    let v: Value = store.raw_get(key)?;
    if !v.is_nil() {
        store.raw_set(key, Value::Nil)?;
    }
    Ok(v)
}

/// Clears `store[key]`. Only a present key is assigned: assigning nil to an absent key would
/// insert it (Luau does), which allocates, while clearing a present one never does, so this
/// cannot fail.
fn remove(store: &Table, key: i64) {
    if store.raw_get::<Value>(key).is_ok_and(|v| !v.is_nil()) {
        let _ = store.raw_set(key, Value::Nil);
    }
}

/// The userdata scripts hold. Identity is the userdata itself, so `r.channel == ch` works.
pub(crate) struct Chan {
    pub(crate) st: Rc<RefCell<ChanState>>,
}

impl UserData for Chan {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(MetaMethod::ToString, |_, c, ()| {
            let st = c.st.borrow();
            Ok(match &st.kind {
                ChanKind::User => format!("channel{{cap={}}}", st.cap),
                ChanKind::Inbox => "channel{inbox}".to_string(),
                ChanKind::Events => "channel{events}".to_string(),
                ChanKind::Listen { topic, .. } => format!("channel{{listen={topic}}}"),
            })
        });
    }

    fn add_fields<F: mlua::UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<mlua::Table>("starling.chan")
        });
    }
}

/// A select case: `ch:case_receive()` or `ch:case_send(v)`.
pub(crate) struct Case {
    pub(crate) chan: AnyUserData,
    pub(crate) send: Option<Value>,
}

impl UserData for Case {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(MetaMethod::ToString, |_, c, ()| {
            Ok(if c.send.is_some() {
                "case{send}"
            } else {
                "case{receive}"
            })
        });
    }
}

/// Result values for a receiver: `v, ok`, or for a select `channel, v, ok` (the prelude turns
/// those into the result table).
fn recv_result(p: &ProcState, w: Waiter, v: Value, ok: bool) -> Vec<Value> {
    if p.in_select(w.task) {
        vec![case_value(p, w), v, Value::Boolean(ok)]
    } else {
        vec![v, Value::Boolean(ok)]
    }
}

/// Result values for a sender whose value was taken.
fn send_result(p: &ProcState, w: Waiter, v: Value) -> Vec<Value> {
    if p.in_select(w.task) {
        vec![case_value(p, w), v, Value::Boolean(true)]
    } else {
        vec![Value::Boolean(true)]
    }
}

fn case_value(p: &ProcState, w: Waiter) -> Value {
    p.case_channel(w.task, w.case as usize)
        .map_or(Value::Nil, Value::UserData)
}

/// Tries to receive now: `Some((v, ok))`, or `None` when the caller would have to wait.
pub(crate) fn try_recv(
    lua: &Lua,
    ctx: &Ctx,
    p: &ProcState,
    st: &Rc<RefCell<ChanState>>,
) -> mlua::Result<Option<(Value, bool)>> {
    let mut s = st.borrow_mut();
    if s.is_special() {
        let kind = s.kind.clone();
        drop(s);
        return Ok(ctx.pop_special(lua, p, &kind)?.map(|v| (v, true)));
    }
    if s.len() > 0 {
        let v = s.pop_buffer(lua)?;
        // A blocked sender can now move its value into the buffer.
        while let Some((w, slot)) = s.sendq.pop_front() {
            let sv = s.take_slot(lua, slot)?;
            if p.is_waiting(w.task, w.wait) {
                s.push_buffer(lua, p, st, &sv)?;
                drop(s);
                let vals = send_result(p, w, sv);
                p.wake(lua, w.task, w.wait, vals);
                break;
            }
        }
        return Ok(Some((v, true)));
    }
    while let Some((w, slot)) = s.sendq.pop_front() {
        let sv = s.take_slot(lua, slot)?;
        if p.is_waiting(w.task, w.wait) {
            drop(s);
            let vals = send_result(p, w, sv.clone());
            p.wake(lua, w.task, w.wait, vals);
            return Ok(Some((sv, true)));
        }
    }
    if s.closed {
        return Ok(Some((Value::Nil, false)));
    }
    Ok(None)
}

/// Tries to send now: `Ok(true)` when done, `Ok(false)` when the caller would have to wait,
/// `Err` when the channel is closed.
pub(crate) fn try_send(
    lua: &Lua,
    p: &ProcState,
    st: &Rc<RefCell<ChanState>>,
    v: &Value,
) -> mlua::Result<bool> {
    let mut s = st.borrow_mut();
    if s.is_special() {
        return Err(mlua::Error::runtime("cannot send on a process channel"));
    }
    if s.closed {
        return Err(mlua::Error::runtime("send on closed channel"));
    }
    while let Some(w) = s.recvq.pop_front() {
        if p.is_waiting(w.task, w.wait) {
            drop(s);
            let vals = recv_result(p, w, v.clone(), true);
            p.wake(lua, w.task, w.wait, vals);
            return Ok(true);
        }
    }
    if s.len() < s.cap {
        s.push_buffer(lua, p, st, v)?;
        return Ok(true);
    }
    Ok(false)
}

/// Closes a channel (idempotent).
pub(crate) fn close(
    lua: &Lua,
    p: &ProcState,
    st: &Rc<RefCell<ChanState>>,
    raise: Value,
) -> mlua::Result<()> {
    let (recvq, sendq) = {
        let mut s = st.borrow_mut();
        if s.closed {
            return Ok(());
        }
        if s.is_special() {
            return Err(mlua::Error::runtime("cannot close a process channel"));
        }
        s.closed = true;
        // The blocked senders' values go; buffered values stay receivable.
        let sendq: Vec<Waiter> = std::mem::take(&mut s.sendq)
            .into_iter()
            .map(|(w, slot)| {
                s.drop_slot(lua, slot);
                w
            })
            .collect();
        (std::mem::take(&mut s.recvq), sendq)
    };
    for w in recvq {
        if p.is_waiting(w.task, w.wait) {
            let vals = recv_result(p, w, Value::Nil, false);
            p.wake(lua, w.task, w.wait, vals);
        }
    }
    for w in sendq {
        if p.is_waiting(w.task, w.wait) {
            let msg = Value::String(lua.create_string("send on closed channel")?);
            p.wake(lua, w.task, w.wait, vec![raise.clone(), msg]);
        }
    }
    Ok(())
}

/// Hands queued worker items to tasks waiting on a special channel; returns how many.
pub(crate) fn pump(
    lua: &Lua,
    ctx: &Ctx,
    p: &ProcState,
    st: &Rc<RefCell<ChanState>>,
) -> mlua::Result<usize> {
    let mut n = 0;
    loop {
        let (w, kind) = {
            let mut s = st.borrow_mut();
            if !s.has_live_receiver(p) {
                return Ok(n);
            }
            (*s.recvq.front().expect("checked above"), s.kind.clone())
        };
        let Some(v) = ctx.pop_special(lua, p, &kind)? else {
            return Ok(n);
        };
        st.borrow_mut().recvq.pop_front();
        let vals = recv_result(p, w, v, true);
        p.wake(lua, w.task, w.wait, vals);
        n += 1;
    }
}
