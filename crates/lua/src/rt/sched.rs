//! A step of a process: deliver what woke it, then run its ready tasks until all are blocked,
//! the process ends, or its time slice is spent.
//!
//! # Guarantees
//! - Tasks run one at a time, each until it blocks, yields or ends (SPEC §7.4).
//! - A step ends within about one slice (SPEC §4.5): the interrupt preempts a busy task, and
//!   tasks that keep waking each other are cut off at the slice's end; the worker then queues
//!   the process behind the others.
//! - Queued messages and events are handed to waiting tasks in arrival order.

use std::rc::Rc;
use std::time::Instant;

use mlua::Lua;
use starling_core::{ErrorKind, ErrorValue, ExitReason, Step, Wakeup};

use crate::engine::Ctx;
use crate::ffi::{self, Resumed};
use crate::rt::memory;
use crate::rt::proc::ProcState;
use crate::rt::task::{Got, Special, Waiter, Waker};

/// Runs the process in `slot` (see [`starling_core::Engine::step`]).
pub(crate) fn step(lua: &Lua, ctx: &Ctx, slot: u32) -> Step {
    let Some(p) = ctx.proc(slot) else {
        return Step::Exit(ExitReason::error(ErrorValue::new(
            ErrorKind::Internal,
            "process state missing",
        )));
    };
    ctx.set_current(Some(p.clone()), None);
    let step = run(lua, ctx, &p)
        .unwrap_or_else(|e| Step::Exit(ExitReason::error(crate::userdata::error::from_mlua(&e))));
    let step = memory::after_step(lua, ctx, &p, step);
    ctx.set_current(None, None);
    ffi::release_deferred(lua);
    step
}

fn run(lua: &Lua, ctx: &Ctx, p: &Rc<ProcState>) -> mlua::Result<Step> {
    for w in ctx.local.take_wakeups(p.slot) {
        on_wakeup(lua, ctx, p, w)?;
    }
    pump(ctx, p);
    let started = Instant::now();
    loop {
        if !p.ready.borrow().is_empty() && started.elapsed() >= ffi::SLICE {
            // Tasks that keep waking each other must not starve other processes.
            return Ok(Step::Preempted);
        }
        let next = p.ready.borrow_mut().pop_front();
        let Some(tid) = next else {
            if pump(ctx, p) == 0 {
                return Ok(Step::Blocked);
            }
            continue;
        };
        let resumable = {
            let mut tasks = p.tasks.borrow_mut();
            tasks.get_mut(tid as usize).map(|t| {
                let fresh = t.fresh;
                let nargs = if fresh {
                    t.fresh = false;
                    t.thread.top() - 1
                } else {
                    0
                };
                (t.thread, nargs, fresh)
            })
        };
        let Some((thread, nargs, fresh)) = resumable else {
            continue;
        };
        ctx.set_task(Some(tid));
        ffi::begin_slice(Some(thread), p.pid.num, started, ctx.watchdog);
        let resumed = thread.resume(nargs);
        let preempted = ffi::end_slice();
        ctx.set_task(None);
        match resumed {
            Resumed::Pending => {
                if fresh {
                    // Its first park: most processes spend their life parked, so cut the
                    // thread to what it holds now rather than when a collection reaches it
                    // (its initial sizes are about 1 KB; issue 10). Later parks are left to
                    // the collector, so a task that parks often does not pay every time.
                    thread.trim();
                }
                if ctx.local.is_killed(p.slot) {
                    return Ok(Step::Blocked);
                }
            }
            Resumed::Yielded => {
                // Preempted, or a plain coroutine.yield() at task level: run it again later.
                p.ready.borrow_mut().push_front(tid);
                if preempted || ctx.local.is_killed(p.slot) {
                    return Ok(Step::Preempted);
                }
            }
            Resumed::Returned => {
                if let Some(reason) = p.exit.take() {
                    return Ok(Step::Exit(reason));
                }
                // A finished coroutine.spawn task.
                if let Some(t) = p.tasks.borrow_mut().try_remove(tid as usize) {
                    t.thread.release();
                }
                if ctx.local.is_killed(p.slot) {
                    return Ok(Step::Blocked);
                }
            }
            Resumed::Failed(msg) => {
                let e = p
                    .take_error()
                    .unwrap_or_else(|| ErrorValue::new(ErrorKind::Unknown, msg).retryable(None));
                return Ok(Step::Exit(ExitReason::error(e)));
            }
        }
    }
}

/// Hands queued messages and events to tasks waiting on the inbox or the events, and
/// messages to tasks waiting on `listen` channels; returns how many it handed.
pub(crate) fn pump(ctx: &Ctx, p: &ProcState) -> usize {
    let mut n = 0;
    if !p.special_waits.borrow().is_empty() {
        n += pump_specials(ctx, p);
    }
    if p.rare_if_made()
        .is_some_and(|r| !r.listeners.borrow().is_empty())
    {
        n += pump_listeners(ctx, p);
    }
    n
}

/// Tasks waiting on the inbox or the events, in registration order; a woken task withdraws
/// its other entries.
fn pump_specials(ctx: &Ctx, p: &ProcState) -> usize {
    let mut n = 0;
    loop {
        let next = {
            let mut sw = p.special_waits.borrow_mut();
            let mut found = None;
            let mut i = 0;
            while i < sw.len() {
                let (sp, w) = sw[i];
                if !p.is_waiting(w.task, w.wait) {
                    sw.remove(i);
                    continue;
                }
                let ready = match sp {
                    Special::Inbox => ctx.local.has_message(p.slot),
                    Special::Events => ctx.local.has_event(p.slot),
                };
                if ready {
                    found = Some((sp, w));
                    break;
                }
                i += 1;
            }
            found
        };
        let Some((sp, w)) = next else { break };
        let got = match sp {
            Special::Inbox => ctx.local.pop_message(p.slot).map(Got::Message),
            Special::Events => ctx.local.pop_event(p.slot).map(Got::Event),
        };
        let Some(got) = got else { break };
        if let Err(back) = p.wake(w, got, true) {
            // Cannot happen (checked above); put the item back rather than lose it.
            drop(back);
            break;
        }
        n += 1;
    }
    n
}

/// Tasks waiting on `listen` channels.
fn pump_listeners(ctx: &Ctx, p: &ProcState) -> usize {
    let mut n = 0;
    let Some(rare) = p.rare_if_made() else {
        return 0;
    };
    let listeners: Vec<_> = rare
        .listeners
        .borrow()
        .iter()
        .map(|(topic, st, _)| (topic.clone(), st.clone()))
        .collect();
    for (topic, st) in listeners {
        loop {
            let w = st.borrow_mut().first_receiver(p);
            let Some(w) = w else { break };
            let raw = matches!(
                &st.borrow().kind,
                crate::rt::chan::ChanKind::Listen { raw: true, .. }
            );
            let Some(msg) = ctx.local.pop_listened(p.slot, &topic) else {
                st.borrow_mut().push_front_receiver(w);
                break;
            };
            let got = if raw {
                Got::Values(msg)
            } else {
                Got::Message(msg)
            };
            let _ = p.wake(w, got, true);
            n += 1;
        }
    }
    n
}

fn on_wakeup(lua: &Lua, ctx: &Ctx, p: &ProcState, w: Wakeup) -> mlua::Result<()> {
    let (token, result) = match w {
        Wakeup::Timer(t) => (t, None),
        Wakeup::Done(t, r) => (t, Some(r)),
    };
    let Some(c) = p
        .rare_if_made()
        .and_then(|r| r.tokens.borrow_mut().remove(token))
    else {
        return Ok(());
    };
    let _ = ctx;
    c.complete(lua, p, token, result)
}

/// A waiter for the special queue `sp` of the running process.
pub(crate) fn wait_special(p: &ProcState, sp: Special, w: Waiter) {
    let mut sw = p.special_waits.borrow_mut();
    if sw.len() == sw.capacity() {
        let n = sw.len().max(1);
        sw.reserve_exact(n);
    }
    sw.push((sp, w));
}
