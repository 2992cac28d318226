//! The hot paths as raw C function bodies (see `ffi`): `process.send`, receiving on the inbox,
//! events and channels, `channel.select` and its cases, channel send and close, the message
//! and payload methods, and the answer a blocked function returns when it runs again.
//!
//! Each body reads its arguments in place and says what to return; anything unusual (a bad
//! argument, a payload the fast encoder does not take) goes to the function's mlua twin
//! through [`Out::Fallback`], which reports it exactly as before.

use std::rc::Rc;

use smallvec::SmallVec;

use starling_core::{
    ByteStr, ErrorKind, ErrorValue, Event, EventKind, Message, Payload, ReplyTo, ShortStr,
    SpawnFlags, SpawnRequest, Spawned,
};

use crate::engine::{Ctx, INIT_BLOCK, Refs};
use crate::ffi::{Item, Kind, Out, RawFn, Stack};
use crate::rt::chan::{self, Chan, ChanKind, Recv, Sent};
use crate::rt::sched;
use crate::rt::task::{self, Got, Special, WaitKind, Waiter};
use crate::rt::values::{EventTable, LuaDuration, LuaTime, MsgData, PayloadData, PidText};

fn bad_arg(pos: i32, func: &str, want: &str, s: &Stack) -> Out {
    Out::Raise(format!(
        "bad argument #{pos} to '{func}' ({want} expected, got {})",
        s.kind(pos).name()
    ))
}

/// The printed form of an event, for the table scripts receive.
pub(crate) fn event_table(ctx: &Ctx, ev: Event) -> EventTable {
    EventTable {
        kind: ev.kind,
        // Not cached when new: a process sends one EXIT, so its string would only evict
        // others (a process that read its own pid has it cached).
        from: match ctx.pid_strings.get(ev.from) {
            Some(r) => PidText::Cached(r),
            None => PidText::Text(ctx.pid_bytes(ev.from)),
        },
        at: ev.at,
        reason: match ev.kind {
            EventKind::Cancel => Some(ev.reason.unwrap_or_default()),
            _ => None,
        },
        result: match ev.kind {
            EventKind::Exit | EventKind::LinkDown => ev.result,
            EventKind::Cancel => None,
        },
    }
}

/// A value handed to a task as a result item.
fn item_of(ctx: &Ctx, got: Got) -> Result<Item, String> {
    Ok(match got {
        Got::Nothing | Got::Nil => Item::Nil,
        Got::Message(m) => Item::Message(MsgData::from(m)),
        Got::Values(m) => Item::DecodeAll(m.payload),
        Got::Event(e) => Item::Event(Box::new(event_table(ctx, e))),
        Got::Stored(store, key) => Item::Stored(store, key),
        Got::Result(Ok(p)) => Item::Decode(Rc::new(p.into()), 0),
        Got::Result(Err(e)) => Item::Error(e),
        Got::Raise(msg) => return Err(msg),
    })
}

// ----- process.send -----

/// `process.send(dest, topic, ...)`: a pid or name, a topic, values copied (SPEC §5.2).
pub(crate) fn send(s: &mut Stack) -> Out {
    let Some(ctx) = Ctx::get() else {
        return Out::Fallback;
    };
    let Some(p) = ctx.try_current() else {
        return Out::Fallback;
    };
    let top = s.top();
    if top < 2 {
        return Out::Fallback;
    }
    let to = {
        let (Some(dest), Some(topic)) = (s.bytes(1), s.bytes(2)) else {
            return Out::Fallback;
        };
        if topic.first() == Some(&b'@') {
            return Out::Fallback;
        }
        match ctx.resolve(dest) {
            Some(to) => to,
            None => return Out::Fallback,
        }
    };
    let Some(payload) = (if top >= 3 {
        s.encode(3, top)
    } else {
        Some(Payload::empty())
    }) else {
        return Out::Fallback;
    };
    let Some(topic) = s.bytes(2).and_then(ShortStr::from_utf8) else {
        return Out::Fallback;
    };
    let msg = Message {
        from: Some(p.pid),
        topic,
        payload: payload.into(),
    };
    match ctx.local.send(to, msg) {
        Ok(()) => Out::One(Item::Bool(true)),
        // Gone: the slow path says so the usual way (NOT_FOUND `process not found`).
        Err(_) => Out::Fallback,
    }
}

// ----- receiving -----

/// `ch:receive()` on any channel (SPEC §7.1, §5.3).
pub(crate) fn receive(s: &mut Stack) -> Out {
    let Some(st) = s.udata::<Chan>(1).map(|c| c.st.clone()) else {
        return bad_arg(1, "receive", "channel", s);
    };
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    let Some(p) = ctx.try_current() else {
        return Out::Raise("no current process".into());
    };
    let kind = st.borrow().kind.clone();
    match kind {
        ChanKind::Inbox => {
            if let Some(m) = ctx.local.pop_message(p.slot) {
                return Out::Two(Item::Message(m.into()), Item::Bool(true));
            }
        }
        ChanKind::Events => {
            if let Some(e) = ctx.local.pop_event(p.slot) {
                return Out::Two(
                    Item::Event(Box::new(event_table(&ctx, e))),
                    Item::Bool(true),
                );
            }
        }
        ChanKind::Listen { topic, raw } => {
            if let Some(m) = ctx.local.pop_listened(p.slot, &topic) {
                let item = if raw {
                    Item::DecodeAll(m.payload)
                } else {
                    Item::Message(m.into())
                };
                return Out::Two(item, Item::Bool(true));
            }
        }
        ChanKind::User => match chan::try_recv(&*p, &st, s) {
            Recv::OnStack(at) => return Out::Two(Item::At(at), Item::Bool(true)),
            Recv::Got(got, ok) => {
                return match item_of(&ctx, got) {
                    Ok(item) => Out::Two(item, Item::Bool(ok)),
                    Err(msg) => Out::Raise(msg),
                };
            }
            Recv::Empty => {}
        },
    }
    // Nothing now: wait.
    let Some(task) = ctx.task() else {
        return Out::Raise(INIT_BLOCK.into());
    };
    let wait = p.set_wait(task, WaitKind::Recv);
    let w = Waiter {
        task,
        wait,
        case: 0,
    };
    let kind = st.borrow().kind.clone();
    match kind {
        ChanKind::Inbox => sched::wait_special(&p, Special::Inbox, w),
        ChanKind::Events => sched::wait_special(&p, Special::Events, w),
        ChanKind::Listen { .. } | ChanKind::User => {
            st.borrow_mut().push_receiver(w);
            p.set_cases(task, vec![st]);
        }
    }
    Out::Block
}

/// What a blocked function returns once its wait completed: run by its continuation, on
/// the task's own thread (and by the prelude's `take_answer`, for blocking mlua functions).
pub(crate) fn answer(_s: &mut Stack) -> Out {
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    let (Some(p), Some(task)) = (ctx.try_current(), ctx.task()) else {
        return Out::Pushed(0);
    };
    let Some(a) = p.take_answer(task) else {
        return Out::Pushed(0);
    };
    let task::Answer {
        kind,
        got,
        ok,
        case,
    } = *a;
    match kind {
        WaitKind::Sleep => Out::Pushed(0),
        WaitKind::Send => match got {
            Got::Raise(msg) => Out::Raise(msg),
            _ => Out::One(Item::Bool(true)),
        },
        WaitKind::Recv => match item_of(&ctx, got) {
            Ok(item) => Out::Two(item, Item::Bool(ok)),
            Err(msg) => Out::Raise(msg),
        },
        WaitKind::Select => match item_of(&ctx, got) {
            Ok(item) => Out::Three(Item::Num(case as f64 + 1.0), item, Item::Bool(ok)),
            Err(msg) => Out::Raise(msg),
        },
        WaitKind::Call => match got {
            Got::Result(Ok(p)) => Out::One(Item::Decode(Rc::new(p.into()), 0)),
            Got::Result(Err(e)) => Out::Two(Item::Nil, Item::Error(e)),
            Got::Raise(msg) => Out::Raise(msg),
            other => match item_of(&ctx, other) {
                Ok(item) => Out::One(item),
                Err(msg) => Out::Raise(msg),
            },
        },
    }
}

// ----- channels -----

/// `ch:send(v)` (SPEC §7.1).
pub(crate) fn chan_send(s: &mut Stack) -> Out {
    let Some(st) = s.udata::<Chan>(1).map(|c| c.st.clone()) else {
        return bad_arg(1, "send", "channel", s);
    };
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    let Some(p) = ctx.try_current() else {
        return Out::Raise("no current process".into());
    };
    if s.top() < 2 {
        s.push_nil();
    }
    match chan::try_send(&*p, &st, s, 2) {
        Err(msg) => return Out::Raise(msg),
        Ok(Sent::Done) => return Out::One(Item::Bool(true)),
        Ok(Sent::Full) => {}
    }
    let Some(task) = ctx.task() else {
        return Out::Raise(INIT_BLOCK.into());
    };
    let wait = p.set_wait(task, WaitKind::Send);
    let w = Waiter {
        task,
        wait,
        case: 0,
    };
    if let Err(msg) = chan::push_sender(&st, s, w, 2) {
        p.abandon_wait(task, wait);
        return Out::Raise(msg);
    }
    p.set_cases(task, vec![st]);
    Out::Block
}

/// `ch:close()`.
pub(crate) fn chan_close(s: &mut Stack) -> Out {
    let Some(st) = s.udata::<Chan>(1).map(|c| c.st.clone()) else {
        return bad_arg(1, "close", "channel", s);
    };
    let Some(p) = Ctx::get().and_then(|c| c.try_current()) else {
        return Out::Raise("no current process".into());
    };
    match chan::close(&*p, &st, s) {
        Ok(()) => Out::One(Item::Bool(true)),
        Err(msg) => Out::Raise(msg),
    }
}

/// `tostring(ch)`.
pub(crate) fn chan_tostring(s: &mut Stack) -> Out {
    let Some(text) = s.udata::<Chan>(1).map(|c| {
        let st = c.st.borrow();
        match &st.kind {
            ChanKind::User => format!("channel{{cap={}}}", st.cap),
            ChanKind::Inbox => "channel{inbox}".to_string(),
            ChanKind::Events => "channel{events}".to_string(),
            ChanKind::Listen { topic, .. } => format!("channel{{listen={topic}}}"),
        }
    }) else {
        return bad_arg(1, "tostring", "channel", s);
    };
    Out::One(Item::Str(text.into_bytes().into()))
}

/// `ch:case_receive()`: a select case (the inbox's and events' are made once per VM).
pub(crate) fn case_receive(s: &mut Stack) -> Out {
    let Some(kind) = s.udata::<Chan>(1).map(|c| c.st.borrow().kind.clone()) else {
        return bad_arg(1, "case_receive", "channel", s);
    };
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    match kind {
        ChanKind::Inbox => Out::One(Item::Ref(ctx.refs().inbox_case)),
        ChanKind::Events => Out::One(Item::Ref(ctx.refs().events_case)),
        _ => Out::One(Item::Case {
            meta: ctx.refs().case_meta,
            chan: 1,
            value: None,
        }),
    }
}

/// `ch:case_send(v)`.
pub(crate) fn case_send(s: &mut Stack) -> Out {
    if s.udata::<Chan>(1).is_none() {
        return bad_arg(1, "case_send", "channel", s);
    }
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    if s.top() < 2 {
        s.push_nil();
    }
    Out::One(Item::Case {
        meta: ctx.refs().case_meta,
        chan: 1,
        value: Some(2),
    })
}

/// One case of a select, read from its table.
struct Case {
    st: Rc<std::cell::RefCell<chan::ChanState>>,
    /// For a send case, the stack index of the value (pushed while the case is tried).
    send: bool,
}

/// Reads case `i` of the cases table at index 1; pushes nothing it leaves behind. The VM's
/// inbox and events receive cases (one each, made once) are known by identity alone.
fn read_case(s: &mut Stack, i: i32, refs: &Refs) -> Option<Case> {
    if s.geti(1, i) != Kind::Table {
        s.pop(1);
        return None;
    }
    let case = s.top();
    let id = s.pointer(case);
    let special = if id == refs.inbox_case_id {
        Some(&refs.inbox_st)
    } else if id == refs.events_case_id {
        Some(&refs.events_st)
    } else {
        None
    };
    if let Some(st) = special {
        s.pop(1);
        return Some(Case {
            st: st.clone(),
            send: false,
        });
    }
    if s.metatable_id(case) != refs.case_meta_id {
        s.pop(1);
        return None;
    }
    s.geti(case, 1);
    let st = s.udata::<Chan>(s.top()).map(|c| c.st.clone());
    s.pop(1);
    s.geti(case, 2);
    let send = s.truthy(s.top());
    s.pop(2);
    Some(Case { st: st?, send })
}

/// Pushes case `i` (cases table at index 1) and the value it sends; returns the value's
/// index (the caller pops both).
fn push_case_value(s: &mut Stack, i: i32) -> i32 {
    s.geti(1, i);
    let case = s.top();
    s.geti(case, 3);
    s.top()
}

/// `channel.select(cases, default)` (SPEC §7.2): answers `case, value, ok` (case 0 for the
/// default), which the prelude turns into the result table.
pub(crate) fn select(s: &mut Stack) -> Out {
    if s.kind(1) != Kind::Table {
        return bad_arg(1, "select", "table", s);
    }
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    let Some(p) = ctx.try_current() else {
        return Out::Raise("no current process".into());
    };
    let refs = ctx.refs();
    let has_default = (s.kind(2) == Kind::Boolean && s.truthy(2)) || {
        s.get_by_ref_key(1, refs.default_key);
        let d = s.kind(s.top()) == Kind::Boolean && s.truthy(s.top());
        s.pop(1);
        d
    };
    let n = s.len(1) as i32;
    let mut cases: SmallVec<[_; 4]> = SmallVec::with_capacity(n.max(0) as usize);
    for i in 1..=n {
        match read_case(s, i, refs) {
            Some(c) => cases.push(c),
            None => return Out::Raise("invalid case".into()),
        }
    }
    // Try each case in order: the first that can proceed wins.
    for (i, c) in cases.iter().enumerate() {
        let index = Item::Num(i as f64 + 1.0);
        if c.send {
            let base = s.top();
            let v = push_case_value(s, i as i32 + 1);
            let sent = chan::try_send(&*p, &c.st, s, v);
            s.pop(s.top() - base);
            match sent {
                Err(msg) => return Out::Raise(msg),
                Ok(Sent::Done) => return Out::Three(index, Item::Nil, Item::Bool(true)),
                Ok(Sent::Full) => continue,
            }
        }
        let kind = c.st.borrow().kind.clone();
        let got = match kind {
            ChanKind::Inbox => ctx
                .local
                .pop_message(p.slot)
                .map(|m| Item::Message(m.into())),
            ChanKind::Events => ctx
                .local
                .pop_event(p.slot)
                .map(|e| Item::Event(Box::new(event_table(&ctx, e)))),
            ChanKind::Listen { topic, raw } => ctx.local.pop_listened(p.slot, &topic).map(|m| {
                if raw {
                    Item::DecodeAll(m.payload)
                } else {
                    Item::Message(m.into())
                }
            }),
            ChanKind::User => match chan::try_recv(&*p, &c.st, s) {
                Recv::OnStack(at) => Some(Item::At(at)),
                Recv::Got(got, ok) => {
                    return match item_of(&ctx, got) {
                        Ok(item) => Out::Three(index, item, Item::Bool(ok)),
                        Err(msg) => Out::Raise(msg),
                    };
                }
                Recv::Empty => None,
            },
        };
        if let Some(item) = got {
            return Out::Three(index, item, Item::Bool(true));
        }
    }
    if has_default {
        return Out::One(Item::Num(0.0));
    }
    if cases.is_empty() {
        return Out::Raise("select with no cases and no default would block forever".into());
    }
    // Wait on every case.
    let Some(task) = ctx.task() else {
        return Out::Raise(INIT_BLOCK.into());
    };
    let wait = p.set_wait(task, WaitKind::Select);
    let mut regs = Vec::new();
    for (i, c) in cases.into_iter().enumerate() {
        let w = Waiter {
            task,
            wait,
            case: i as u32,
        };
        let kind = c.st.borrow().kind.clone();
        match kind {
            ChanKind::Inbox => sched::wait_special(&p, Special::Inbox, w),
            ChanKind::Events => sched::wait_special(&p, Special::Events, w),
            _ if c.send => {
                let base = s.top();
                let v = push_case_value(s, i as i32 + 1);
                let kept = chan::push_sender(&c.st, s, w, v);
                s.pop(s.top() - base);
                if let Err(msg) = kept {
                    p.set_cases(task, regs);
                    p.abandon_wait(task, wait);
                    return Out::Raise(msg);
                }
                regs.push(c.st);
            }
            _ => {
                c.st.borrow_mut().push_receiver(w);
                regs.push(c.st);
            }
        }
    }
    p.set_cases(task, regs);
    Out::Block
}

// ----- messages and payloads -----

/// `msg:topic()`.
pub(crate) fn msg_topic(s: &mut Stack) -> Out {
    if s.udata::<MsgData>(1).is_none() {
        return bad_arg(1, "topic", "message", s);
    }
    Out::One(Item::MsgTopic(1))
}

/// `msg:from()`: the sender's pid, or nil when the runtime sent it (SPEC §11.5).
pub(crate) fn msg_from(s: &mut Stack) -> Out {
    let Some(m) = s.udata::<MsgData>(1) else {
        return bad_arg(1, "from", "message", s);
    };
    let Some(from) = m.from else {
        return Out::One(Item::Nil);
    };
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    Out::One(ctx.pid_item(from))
}

/// `msg:payload()`: one value → a payload object; several → an array of them; none → nil.
pub(crate) fn msg_payload(s: &mut Stack) -> Out {
    let Some(m) = s.udata::<MsgData>(1) else {
        return bad_arg(1, "payload", "message", s);
    };
    let p = m.payload.clone();
    match p.len() {
        0 => Out::One(Item::Nil),
        1 => Out::One(Item::Payload(PayloadData {
            payload: p,
            index: 0,
        })),
        _ => Out::One(Item::PayloadArray(p)),
    }
}

/// `tostring(msg)`.
pub(crate) fn msg_tostring(s: &mut Stack) -> Out {
    let Some(m) = s.udata::<MsgData>(1) else {
        return bad_arg(1, "tostring", "message", s);
    };
    Out::One(Item::Str(
        format!("process.Message{{topic={}}}", m.topic)
            .into_bytes()
            .into(),
    ))
}

/// `p:data()` and `p:unmarshal()`.
pub(crate) fn payload_data(s: &mut Stack) -> Out {
    let Some(p) = s.udata::<PayloadData>(1) else {
        return bad_arg(1, "data", "payload", s);
    };
    Out::One(Item::Decode(p.payload.clone(), p.index))
}

/// `p:get_format()`.
pub(crate) fn payload_format(s: &mut Stack) -> Out {
    let Some(p) = s.udata::<PayloadData>(1) else {
        return bad_arg(1, "get_format", "payload", s);
    };
    Out::One(Item::Str(p.format().as_bytes().into()))
}

/// `p:transcode(fmt)`: to its own format (or `lua/any`) is a copy; others are not supported.
pub(crate) fn payload_transcode(s: &mut Stack) -> Out {
    let Some(p) = s.udata::<PayloadData>(1).cloned() else {
        return bad_arg(1, "transcode", "payload", s);
    };
    let Some(fmt) = s.bytes(2).map(|b| String::from_utf8_lossy(b).into_owned()) else {
        return bad_arg(2, "transcode", "string", s);
    };
    if fmt == "lua/any" || fmt == p.format() {
        return Out::One(Item::Payload(p));
    }
    Out::Two(
        Item::Nil,
        Item::Error(ErrorValue::new(
            ErrorKind::Internal,
            format!("transcoding to {fmt} is not supported"),
        )),
    )
}

/// `tostring(p)`.
pub(crate) fn payload_tostring(s: &mut Stack) -> Out {
    let Some(p) = s.udata::<PayloadData>(1) else {
        return bad_arg(1, "tostring", "payload", s);
    };
    Out::One(Item::Str(
        format!("payload{{format={}}}", p.format())
            .into_bytes()
            .into(),
    ))
}

/// `payload.new(v)`.
pub(crate) fn payload_new(s: &mut Stack) -> Out {
    if s.top() < 1 {
        s.push_nil();
    }
    match s.encode(1, 1) {
        Some(p) => Out::One(Item::Payload(PayloadData::of(p))),
        None => Out::Fallback,
    }
}

// ----- process -----

/// `process.spawn*(id, host, ...)` (SPEC §5.1): the child's pid, at once for a child on this
/// worker's host and engine, else once its worker answers.
fn spawn_with(s: &mut Stack, flags: SpawnFlags) -> Out {
    let Some(ctx) = Ctx::get() else {
        return Out::Fallback;
    };
    let (Some(p), Some(lua)) = (ctx.try_current(), ctx.lua()) else {
        return Out::Fallback;
    };
    let top = s.top();
    let (entry, host) = {
        let (Some(id), Some(host)) = (s.bytes(1), s.bytes(2)) else {
            return Out::Fallback;
        };
        let Some((entry, host)) = ctx.spawn_target(id, host) else {
            return Out::Fallback;
        };
        if !ctx.local.node().host_running(host) {
            return Out::Fallback;
        }
        (entry, host)
    };
    // A child made here, at once, takes scalar arguments straight from this stack.
    let direct = top >= 3 && ctx.local.spawns_here(p.slot, host, &entry) && s.are_scalars(3, top);
    let Some(args) = (if top >= 3 && !direct {
        s.encode(3, top)
    } else {
        Some(Payload::empty())
    }) else {
        return Out::Fallback;
    };
    // The token is chosen now (a spawn elsewhere records the parent's half under it); the
    // wait is registered only if the spawn does not complete at once.
    let token = p.next_id();
    let req = SpawnRequest {
        entry,
        host,
        args,
        parent: None,
        flags,
        reply: Some(ReplyTo { pid: p.pid, token }),
        num: 0,
        setup: None,
    };
    let direct = direct.then(|| s.args(3, top));
    let spawned = ctx
        .local
        .spawn(p.slot, req, &mut |slot, pid, args| match direct {
            Some(stack) => crate::rt::spawn::start_from_stack(&lua, &ctx, slot, pid, args, stack),
            None => crate::rt::spawn::start(&lua, &ctx, slot, pid, args),
        });
    match spawned {
        Ok(Spawned::Done(child)) => Out::One(Item::Str(ctx.pid_bytes(child))),
        Ok(Spawned::Pending(_)) => {
            let Some(task) = ctx.task() else {
                return Out::Raise(
                    "cannot wait for a spawn on another host while a process is initialising \
                     (top level of its chunk)"
                        .into(),
                );
            };
            let wait = p.set_wait(task, WaitKind::Call);
            p.add_token(
                &ctx.local,
                token,
                Box::new(crate::engine::Answered { task, wait }),
            );
            Out::Block
        }
        Err(e) => Out::Two(Item::Nil, Item::Error(e)),
    }
}

/// `process.spawn`.
pub(crate) fn spawn(s: &mut Stack) -> Out {
    spawn_with(s, SpawnFlags::default())
}

/// `process.spawn_monitored`.
pub(crate) fn spawn_monitored(s: &mut Stack) -> Out {
    spawn_with(
        s,
        SpawnFlags {
            monitor: true,
            ..SpawnFlags::default()
        },
    )
}

/// `process.spawn_linked`.
pub(crate) fn spawn_linked(s: &mut Stack) -> Out {
    spawn_with(
        s,
        SpawnFlags {
            link: true,
            ..SpawnFlags::default()
        },
    )
}

/// `process.spawn_linked_monitored`.
pub(crate) fn spawn_linked_monitored(s: &mut Stack) -> Out {
    spawn_with(
        s,
        SpawnFlags {
            monitor: true,
            link: true,
            ..SpawnFlags::default()
        },
    )
}

/// `process.pid()`.
pub(crate) fn pid(_s: &mut Stack) -> Out {
    let Some(ctx) = Ctx::get() else {
        return Out::Raise("no current process".into());
    };
    let Some(p) = ctx.try_current() else {
        return Out::Raise("no current process".into());
    };
    Out::One(ctx.pid_item(p.pid))
}

/// `process.inbox()`.
pub(crate) fn inbox(_s: &mut Stack) -> Out {
    match Ctx::get() {
        Some(ctx) => Out::One(Item::Ref(ctx.refs().inbox)),
        None => Out::Raise("no current process".into()),
    }
}

/// `process.events()`.
pub(crate) fn events(_s: &mut Stack) -> Out {
    match Ctx::get() {
        Some(ctx) => Out::One(Item::Ref(ctx.refs().events)),
        None => Out::Raise("no current process".into()),
    }
}

/// The last call of a task body: `finish(ok, ...)` with what `xpcall` returned. Records how
/// the process ends when the main task returns (SPEC §4.4) or any task fails.
pub(crate) fn finish(s: &mut Stack) -> Out {
    let Some(ctx) = Ctx::get() else {
        return Out::Pushed(0);
    };
    let Some(p) = ctx.try_current() else {
        return Out::Pushed(0);
    };
    let ok = s.truthy(1);
    if !ok {
        let e = p.take_error().unwrap_or_else(|| {
            let msg = s
                .bytes(2)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| "unknown error".to_string());
            ErrorValue::new(ErrorKind::Unknown, msg).retryable(None)
        });
        p.exit.set(Some(starling_core::ExitReason::error(e)));
        return Out::Pushed(0);
    }
    if ctx.task() != Some(crate::rt::proc::MAIN_TASK) {
        return Out::Pushed(0);
    }
    // A second return value that is a string or an error object makes the run a failure.
    match s.kind(3) {
        Kind::String | Kind::Userdata => return Out::Fallback,
        _ => {}
    }
    let top = s.top().min(2);
    let value = if top >= 2 {
        s.encode(2, 2)
    } else {
        Some(Payload::empty())
    };
    match value {
        Some(v) => {
            let v = if v.values.is_empty() {
                Payload::one(starling_core::Value::Nil)
            } else {
                v
            };
            p.exit.set(Some(starling_core::ExitReason::normal(v)));
            Out::Pushed(0)
        }
        None => Out::Fallback,
    }
}

// ----- strings -----

/// `string.upper(s)` / `string.lower(s)` on a string (SPEC §11.11: Unicode simple case mapping
/// for valid UTF-8, bytes otherwise). Numbers and error objects go to the mlua twin.
fn case_map(s: &Stack, upper: bool) -> Out {
    if s.kind(1) != Kind::String {
        return Out::Fallback;
    }
    let Some(b) = s.bytes(1) else {
        return Out::Fallback;
    };
    // Text that is not ASCII maps by Unicode's rules; ASCII (checked first: it is the usual
    // case and cheaper than a UTF-8 check) and bytes that are not UTF-8 map byte by byte.
    let unicode = if b.is_ascii() {
        None
    } else {
        std::str::from_utf8(b).ok()
    };
    let out = match unicode {
        Some(text) => {
            let t = if upper {
                text.to_uppercase()
            } else {
                text.to_lowercase()
            };
            ByteStr::from(t)
        }
        _ if upper && !b.iter().any(u8::is_ascii_lowercase) => return Out::One(Item::At(1)),
        _ if !upper && !b.iter().any(u8::is_ascii_uppercase) => return Out::One(Item::At(1)),
        // One copy, mapped where it lies (a short string allocates nothing).
        _ => {
            let mut s = ByteStr::copy_from(b);
            if upper {
                s.as_mut_bytes().make_ascii_uppercase();
            } else {
                s.as_mut_bytes().make_ascii_lowercase();
            }
            s
        }
    };
    Out::One(Item::Str(out))
}

/// `string.upper(s)`.
pub(crate) fn string_upper(s: &mut Stack) -> Out {
    case_map(s, true)
}

/// `string.lower(s)`.
pub(crate) fn string_lower(s: &mut Stack) -> Out {
    case_map(s, false)
}

// ----- time -----

/// `time.now()`: the current time in the local zone.
pub(crate) fn time_now(_s: &mut Stack) -> Out {
    Out::One(Item::Time(LuaTime::now()))
}

/// `t:sub(u)`: the Duration from `u` to `t`.
pub(crate) fn time_sub(s: &mut Stack) -> Out {
    match (s.udata::<LuaTime>(1), s.udata::<LuaTime>(2)) {
        (Some(a), Some(b)) => Out::One(Item::Duration(a.since(b))),
        _ => Out::Fallback,
    }
}

/// `d:nanoseconds()`.
pub(crate) fn duration_nanoseconds(s: &mut Stack) -> Out {
    match s.udata::<LuaDuration>(1) {
        Some(d) => Out::One(Item::Num(d.0 as f64)),
        None => Out::Fallback,
    }
}

/// Declares the body types the C functions are made from (see `ffi::RawFn`).
macro_rules! raw_fns {
    ($($ty:ident => $f:ident),* $(,)?) => {
        $(
            #[doc = concat!("The body `", stringify!($f), "` as a C function type.")]
            pub(crate) struct $ty;
            impl RawFn for $ty {
                fn body(s: &mut Stack) -> Out {
                    $f(s)
                }
            }
        )*
    };
}

raw_fns!(
    Send => send,
    Receive => receive,
    Answer => answer,
    ChanSend => chan_send,
    ChanClose => chan_close,
    ChanToString => chan_tostring,
    CaseReceive => case_receive,
    CaseSend => case_send,
    Select => select,
    MsgTopic => msg_topic,
    MsgFrom => msg_from,
    MsgPayload => msg_payload,
    MsgToString => msg_tostring,
    PayloadDataOf => payload_data,
    PayloadFormat => payload_format,
    PayloadTranscode => payload_transcode,
    PayloadToString => payload_tostring,
    PayloadNew => payload_new,
    ProcessPid => pid,
    Inbox => inbox,
    Events => events,
    Finish => finish,
    Spawn => spawn,
    SpawnMonitored => spawn_monitored,
    SpawnLinked => spawn_linked,
    SpawnLinkedMonitored => spawn_linked_monitored,
    StringUpper => string_upper,
    StringLower => string_lower,
    TimeNow => time_now,
    TimeSub => time_sub,
    DurationNanoseconds => duration_nanoseconds,
);
