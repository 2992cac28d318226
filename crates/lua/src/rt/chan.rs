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
//! - The inbox, events and `listen` channels are unbuffered views of queues kept by the worker:
//!   a queued message counts as ready (SPEC §5.3, §11.6).
//!
//! # Where values are kept
//! A user channel's values live in Lua, in the channel's *store* (a table referenced from the
//! registry): the buffer at keys `1..=cap` (a ring), and values on their way to a receiver or
//! held by a blocked sender at negative keys of their own. Rust holds only keys, so a channel
//! with a million buffered values, or a million processes parked on channels, costs no mlua
//! handle; everything is counted against the VM's memory limit like any Lua data. A store is
//! released when its channel is collected, and emptied when its process ends (which breaks
//! cycles through values that hold their own channel).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::ffi::{self, Stack};
use crate::rt::task::{Got, Registry, Waiter, Waker};
use crate::rt::values::{TAG_CHAN, Tagged};

/// The userdata scripts hold for a channel. Identity is the userdata itself, so
/// `r.channel == ch` works.
#[derive(Debug)]
pub(crate) struct Chan {
    pub(crate) st: Rc<RefCell<ChanState>>,
}

impl Tagged for Chan {
    const TAG: std::os::raw::c_int = TAG_CHAN;
}

/// Where a channel's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChanKind {
    /// `channel.new` and the time channels.
    User,
    /// `process.inbox()` (one object per VM, acting on the running process).
    Inbox,
    /// `process.events()` (likewise).
    Events,
    /// `process.listen(topic)`; `raw` = deliver values instead of message objects.
    Listen { topic: Box<str>, raw: bool },
}

/// Channel state.
#[derive(Debug)]
pub(crate) struct ChanState {
    pub(crate) kind: ChanKind,
    pub(crate) cap: usize,
    pub(crate) closed: bool,
    /// Registry reference of the store, or `LUA_NOREF` (process channels keep no values).
    store: i32,
    /// Ring position of the oldest buffered value, `< cap` (0 when unbuffered).
    head: usize,
    /// Buffered values.
    len: usize,
    recvq: VecDeque<Waiter>,
    /// Blocked senders and the store keys of their values.
    sendq: VecDeque<(Waiter, i32)>,
    /// The last negative key handed out.
    last_key: i32,
    /// Keys of withdrawn senders' values, cleared at the next operation.
    stale: Vec<i32>,
}

impl Drop for ChanState {
    fn drop(&mut self) {
        if self.store != NOREF {
            // May run inside a garbage collection: released after the step.
            ffi::defer_unref(self.store);
        }
    }
}

const NOREF: i32 = mlua::ffi::LUA_NOREF;

/// What an attempt to receive found.
#[derive(Debug)]
pub(crate) enum Recv {
    /// A value (and `ok`: false once closed and drained).
    Got(Got, bool),
    /// A buffered value, now on the caller's stack at this index.
    OnStack(i32),
    /// Nothing now: the caller waits.
    Empty,
}

/// What an attempt to send did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Taken by a receiver or buffered.
    Done,
    /// No room and no receiver: the caller waits.
    Full,
}

impl ChanState {
    /// A channel of `kind` with buffer `cap`; `store` is its store's registry reference, or
    /// `None` for process channels.
    pub(crate) fn new(kind: ChanKind, cap: usize, store: Option<i32>) -> Rc<RefCell<ChanState>> {
        Rc::new(RefCell::new(ChanState {
            kind,
            cap,
            closed: false,
            store: store.unwrap_or(NOREF),
            head: 0,
            len: 0,
            recvq: VecDeque::new(),
            sendq: VecDeque::new(),
            last_key: 0,
            stale: Vec::new(),
        }))
    }

    /// True for the inbox, events and `listen` channels.
    pub(crate) fn is_special(&self) -> bool {
        self.kind != ChanKind::User
    }

    fn ring_key(&self, i: usize) -> i32 {
        let pos = self.head + i;
        let pos = if pos >= self.cap { pos - self.cap } else { pos };
        pos as i32 + 1
    }

    fn fresh_key(&mut self) -> i32 {
        self.last_key = if self.last_key <= i32::MIN + 1 {
            -1
        } else {
            self.last_key - 1
        };
        self.last_key
    }

    /// Queues a receiver.
    pub(crate) fn push_receiver(&mut self, w: Waiter) {
        // Usually one waiter: grow one slot at a time.
        if self.recvq.len() == self.recvq.capacity() {
            self.recvq.reserve_exact(self.recvq.len().max(1));
        }
        self.recvq.push_back(w);
    }

    /// Withdraws every registration of `task` for wait `wait` (its sender values are
    /// cleared at the channel's next operation).
    pub(crate) fn forget(&mut self, task: u32, wait: u64) {
        let mine = |w: &Waiter| w.task == task && w.wait == wait;
        self.recvq.retain(|w| !mine(w));
        if !self.sendq.iter().any(|(w, _)| mine(w)) {
            return;
        }
        let mut keep = VecDeque::with_capacity(self.sendq.len());
        for (w, key) in std::mem::take(&mut self.sendq) {
            if mine(&w) {
                self.stale.push(key);
            } else {
                keep.push_back((w, key));
            }
        }
        self.sendq = keep;
    }

    /// Clears the values of withdrawn senders.
    fn sweep(&mut self, stack: &mut Stack) {
        for key in std::mem::take(&mut self.stale) {
            ffi::store_clear_in(stack, self.store, key);
        }
    }

    /// The first live receiver, taken off the queue (stale ones are dropped).
    pub(crate) fn first_receiver(&mut self, p: &dyn Waker) -> Option<Waiter> {
        self.live_receiver(p)
    }

    /// Puts a receiver back at the front (it found nothing after all).
    pub(crate) fn push_front_receiver(&mut self, w: Waiter) {
        self.recvq.push_front(w);
    }

    /// Drops stale receivers at the front; the first live one.
    fn live_receiver(&mut self, p: &dyn Waker) -> Option<Waiter> {
        while let Some(w) = self.recvq.pop_front() {
            if p.is_waiting(w.task, w.wait) {
                return Some(w);
            }
        }
        None
    }
}

/// Receives from a user channel now, from a C function body.
pub(crate) fn try_recv(p: &dyn Waker, st: &Rc<RefCell<ChanState>>, stack: &mut Stack) -> Recv {
    let mut s = st.borrow_mut();
    s.sweep(stack);
    let store = s.store;
    if s.len > 0 {
        let key = s.ring_key(0);
        let at = ffi::store_take(stack, store, key);
        s.head = if s.head + 1 == s.cap { 0 } else { s.head + 1 };
        s.len -= 1;
        // A blocked sender can now move its value into the buffer.
        while let Some((w, skey)) = s.sendq.pop_front() {
            if !p.is_waiting(w.task, w.wait) {
                ffi::store_clear_in(stack, store, skey);
                continue;
            }
            let tail = s.ring_key(s.len);
            if ffi::store_move(stack, store, skey, store, tail) {
                s.len += 1;
            }
            drop(s);
            let _ = p.wake(w, Got::Nothing, true);
            break;
        }
        return Recv::OnStack(at);
    }
    while let Some((w, skey)) = s.sendq.pop_front() {
        if !p.is_waiting(w.task, w.wait) {
            ffi::store_clear_in(stack, store, skey);
            continue;
        }
        let at = ffi::store_take(stack, store, skey);
        drop(s);
        let _ = p.wake(w, Got::Nothing, true);
        return Recv::OnStack(at);
    }
    if s.closed {
        return Recv::Got(Got::Nil, false);
    }
    Recv::Empty
}

/// Sends the value at stack index `v` on a user channel now, from a C function body.
/// `Err` carries the message to raise.
pub(crate) fn try_send(
    p: &dyn Waker,
    st: &Rc<RefCell<ChanState>>,
    stack: &mut Stack,
    v: i32,
) -> Result<Sent, String> {
    let mut s = st.borrow_mut();
    if s.is_special() {
        return Err("cannot send on a process channel".into());
    }
    if s.closed {
        return Err("send on closed channel".into());
    }
    s.sweep(stack);
    let store = s.store;
    if let Some(w) = s.live_receiver(p) {
        let key = s.fresh_key();
        if !ffi::store_put(stack, store, key, v) {
            s.recvq.push_front(w);
            return Err("not enough memory".into());
        }
        drop(s);
        if let Err(got) = p.wake(w, Got::Stored(store, key), true) {
            drop(got);
            ffi::store_clear_in(stack, store, key);
        }
        return Ok(Sent::Done);
    }
    if s.len < s.cap {
        let key = s.ring_key(s.len);
        if !ffi::store_put(stack, store, key, v) {
            return Err("not enough memory".into());
        }
        s.len += 1;
        return Ok(Sent::Done);
    }
    Ok(Sent::Full)
}

/// Queues a blocked sender whose value is at stack index `v`. `Err` when the value could not
/// be kept (out of memory).
pub(crate) fn push_sender(
    st: &Rc<RefCell<ChanState>>,
    stack: &mut Stack,
    w: Waiter,
    v: i32,
) -> Result<(), String> {
    let mut s = st.borrow_mut();
    let key = s.fresh_key();
    if !ffi::store_put(stack, s.store, key, v) {
        return Err("not enough memory".into());
    }
    if s.sendq.len() == s.sendq.capacity() {
        let n = s.sendq.len().max(1);
        s.sendq.reserve_exact(n);
    }
    s.sendq.push_back((w, key));
    Ok(())
}

/// Closes a channel (idempotent), from a C function body. `Err` for a process channel.
pub(crate) fn close(
    p: &dyn Waker,
    st: &Rc<RefCell<ChanState>>,
    stack: &mut Stack,
) -> Result<(), String> {
    let (recvq, sendq) = {
        let mut s = st.borrow_mut();
        if s.is_special() {
            return Err("cannot close a process channel".into());
        }
        if s.closed {
            return Ok(());
        }
        s.closed = true;
        s.sweep(stack);
        let store = s.store;
        // The blocked senders' values go; buffered values stay receivable.
        let sendq: Vec<Waiter> = std::mem::take(&mut s.sendq)
            .into_iter()
            .map(|(w, key)| {
                ffi::store_clear_in(stack, store, key);
                w
            })
            .collect();
        (std::mem::take(&mut s.recvq), sendq)
    };
    for w in recvq {
        let _ = p.wake(w, Got::Nil, false);
    }
    for w in sendq {
        let _ = p.wake(w, Got::Raise("send on closed channel".into()), false);
    }
    Ok(())
}

/// Sends an mlua value on a user channel from outside a C function (a timer's tick, a
/// function call's result): to a waiting receiver, else into the buffer if there is room.
/// False when neither (the value is dropped) or the channel is closed.
pub(crate) fn offer(
    lua: &mlua::Lua,
    p: &dyn Waker,
    st: &Rc<RefCell<ChanState>>,
    v: mlua::Value,
) -> bool {
    let mut s = st.borrow_mut();
    if s.closed || s.is_special() {
        return false;
    }
    let store = s.store;
    for key in std::mem::take(&mut s.stale) {
        ffi::store_clear(lua, store, key);
    }
    if let Some(w) = s.live_receiver(p) {
        let key = s.fresh_key();
        if !ffi::store_put_value(lua, store, key, v) {
            s.recvq.push_front(w);
            return false;
        }
        drop(s);
        if p.wake(w, Got::Stored(store, key), true).is_err() {
            ffi::store_clear(lua, store, key);
        }
        return true;
    }
    if s.len < s.cap {
        let key = s.ring_key(s.len);
        if !ffi::store_put_value(lua, store, key, v) {
            return false;
        }
        s.len += 1;
        return true;
    }
    false
}

/// Closes a channel from outside a C function (a one-shot timer after its tick).
pub(crate) fn close_outside(lua: &mlua::Lua, p: &dyn Waker, st: &Rc<RefCell<ChanState>>) {
    let (recvq, sendq) = {
        let mut s = st.borrow_mut();
        if s.closed || s.is_special() {
            return;
        }
        s.closed = true;
        let store = s.store;
        let sendq: Vec<Waiter> = std::mem::take(&mut s.sendq)
            .into_iter()
            .map(|(w, key)| {
                ffi::store_clear(lua, store, key);
                w
            })
            .collect();
        (std::mem::take(&mut s.recvq), sendq)
    };
    for w in recvq {
        let _ = p.wake(w, Got::Nil, false);
    }
    for w in sendq {
        let _ = p.wake(w, Got::Raise("send on closed channel".into()), false);
    }
}

/// Drops buffered values (a reset timer's stale tick), from outside a C function.
pub(crate) fn clear_buffer(lua: &mlua::Lua, st: &Rc<RefCell<ChanState>>) {
    let mut s = st.borrow_mut();
    let store = s.store;
    for i in 0..s.len {
        let key = s.ring_key(i);
        ffi::store_clear(lua, store, key);
    }
    s.head = 0;
    s.len = 0;
}

/// Empties a channel's store (its process is ending: breaks cycles through its values).
pub(crate) fn clear(lua: &mlua::Lua, st: &RefCell<ChanState>) {
    let store = st.borrow().store;
    if store != NOREF {
        ffi::clear_store(lua, store);
    }
}

impl Registry for RefCell<ChanState> {
    fn forget(&self, task: u32, wait: u64) {
        if let Ok(mut s) = self.try_borrow_mut() {
            s.forget(task, wait);
        }
    }
}
