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

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use mlua::{AnyUserData, Lua, MetaMethod, UserData, UserDataMethods, Value};

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

/// Channel state.
pub(crate) struct ChanState {
    pub(crate) kind: ChanKind,
    cap: usize,
    buf: VecDeque<Value>,
    closed: bool,
    recvq: VecDeque<Waiter>,
    sendq: VecDeque<(Waiter, Value)>,
}

impl ChanState {
    pub(crate) fn new(kind: ChanKind, cap: usize) -> Rc<RefCell<ChanState>> {
        Rc::new(RefCell::new(ChanState {
            kind,
            cap,
            buf: VecDeque::new(),
            closed: false,
            recvq: VecDeque::new(),
            sendq: VecDeque::new(),
        }))
    }

    /// Withdraws every registration of `task` for wait `wait`.
    pub(crate) fn forget(&mut self, task: u32, wait: u64) {
        self.recvq.retain(|w| !(w.task == task && w.wait == wait));
        self.sendq
            .retain(|(w, _)| !(w.task == task && w.wait == wait));
    }

    /// Drops buffered values (a reset timer's stale tick).
    pub(crate) fn clear_buffer(&mut self) {
        self.buf.clear();
    }

    pub(crate) fn push_receiver(&mut self, w: Waiter) {
        // Usually one waiter (the process's own receive): grow one slot at a time.
        if self.recvq.len() == self.recvq.capacity() {
            self.recvq.reserve_exact(self.recvq.len().max(1));
        }
        self.recvq.push_back(w);
    }

    pub(crate) fn push_sender(&mut self, w: Waiter, v: Value) {
        if self.sendq.len() == self.sendq.capacity() {
            self.sendq.reserve_exact(self.sendq.len().max(1));
        }
        self.sendq.push_back((w, v));
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
    let kind = st.borrow().kind.clone();
    match kind {
        ChanKind::User => {}
        special => return Ok(ctx.pop_special(lua, p, &special)?.map(|v| (v, true))),
    }
    let mut s = st.borrow_mut();
    if let Some(v) = s.buf.pop_front() {
        // A blocked sender can now move its value into the buffer.
        while let Some((w, sv)) = s.sendq.pop_front() {
            if p.is_waiting(w.task, w.wait) {
                s.buf.push_back(sv.clone());
                drop(s);
                let vals = send_result(p, w, sv);
                p.wake(w.task, w.wait, vals);
                break;
            }
        }
        return Ok(Some((v, true)));
    }
    while let Some((w, sv)) = s.sendq.pop_front() {
        if p.is_waiting(w.task, w.wait) {
            drop(s);
            let vals = send_result(p, w, sv.clone());
            p.wake(w.task, w.wait, vals);
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
            p.wake(w.task, w.wait, vals);
            return Ok(true);
        }
    }
    if s.buf.len() < s.cap {
        s.buf.push_back(v.clone());
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
        (std::mem::take(&mut s.recvq), std::mem::take(&mut s.sendq))
    };
    for w in recvq {
        if p.is_waiting(w.task, w.wait) {
            let vals = recv_result(p, w, Value::Nil, false);
            p.wake(w.task, w.wait, vals);
        }
    }
    for (w, _) in sendq {
        if p.is_waiting(w.task, w.wait) {
            let msg = Value::String(lua.create_string("send on closed channel")?);
            p.wake(w.task, w.wait, vec![raise.clone(), msg]);
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
        p.wake(w.task, w.wait, vals);
        n += 1;
    }
}
