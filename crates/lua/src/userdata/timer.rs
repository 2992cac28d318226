//! Timer and Ticker values (SPEC §8.1): a channel fed by the worker's timer heap.
//!
//! # Guarantees
//! - A timer or tick never fires before its deadline; it fires on the first scheduler pass
//!   after it (typically well under a millisecond late on an idle worker, later while the
//!   worker runs other busy processes).
//! - Timers live only as long as their process: their state hangs off the process's token
//!   table, which is dropped when it ends; the worker drops their heap entries.
//! - A stopped timer or ticker never sends again, and its heap entries are withdrawn. A timer
//!   whose channel was collected (the Timer and its channel both unreachable) is stale: it
//!   is dropped from the token table as the table grows, and its heap entries withdrawn.
//! - A timer's channel carries its cost outside Lua against the VM's memory limit
//!   ([`TIMER_CHARGE`]), so live timers count like any Lua data.
//! - Ticker channels buffer 16 ticks; a tick that finds the buffer full is dropped, and a
//!   ticker that fell behind skips the ticks it missed instead of firing them in a burst.
//!
//! Each Timer or Ticker owns one worker token for its whole life. Re-arming to a later
//! deadline keeps the pending heap entry and re-arms when it fires, so calling `reset` in a
//! loop does not pile up heap entries.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use mlua::{IntoLua, Lua, UserData, UserDataMethods, Value};
use starling_core::Pid;

use crate::engine::Ctx;
use crate::rt::chan::{self, ChanState};
use crate::rt::proc::{Completion, ProcState};
use crate::userdata::time::{LuaTime, duration_arg};

/// Bytes a timer channel (`time.after`, `time.timer`, `time.ticker`) carries against the
/// VM's memory limit while it lives: about what its timer costs outside Lua (the channel's
/// state, the token, the worker's heap entry), so a process cannot keep timers past its
/// worker's memory limit (issue 11).
pub(crate) const TIMER_CHARGE: usize = 384;

/// Shared between the userdata and the process's token table.
pub(crate) struct TimerState {
    /// The channel, held weakly: the Timer userdata holds it (through its registry
    /// reference), and so may the script.
    st: Weak<RefCell<ChanState>>,
    /// The worker, whose heap the timer's entries go into.
    local: Rc<starling_core::Local>,
    /// When to fire next; `None` once fired (timer) or stopped.
    due: Cell<Option<Instant>>,
    /// Deadlines of this token's entries still in the worker heap, ascending.
    armed: RefCell<Vec<Instant>>,
    /// Tick interval in nanoseconds; `None` for a one-shot timer.
    period: Option<u64>,
}

fn after(ns: i64) -> Instant {
    Instant::now() + Duration::from_nanos(ns as u64)
}

impl TimerState {
    /// Sets the next deadline and makes sure a heap entry will wake us no later than it.
    fn arm(self: &Rc<Self>, local: &starling_core::Local, p: &ProcState, token: u64, at: Instant) {
        self.due.set(Some(at));
        let mut armed = self.armed.borrow_mut();
        if armed.first().is_none_or(|first| *first > at) {
            // The token is in the process's table while entries remain (once).
            let listed = !armed.is_empty();
            armed.insert(0, at);
            local.add_timer(p.slot, at, token);
            if !listed {
                p.add_token(local, token, Box::new(TimerFired(self.clone())));
            }
        }
    }
}

/// A heap entry of `token` fired (its token was taken out of the table).
pub(crate) fn on_fire(
    lua: &Lua,
    local: &starling_core::Local,
    p: &ProcState,
    token: u64,
    t: Rc<TimerState>,
) -> mlua::Result<()> {
    let now = Instant::now();
    {
        let mut armed = t.armed.borrow_mut();
        if !armed.is_empty() {
            armed.remove(0);
        }
        if !armed.is_empty() {
            // Entries remain: keep the token.
            p.add_token(local, token, Box::new(TimerFired(t.clone())));
        }
    }
    let Some(due) = t.due.get() else {
        return Ok(());
    };
    if due > now {
        // Re-armed to a later deadline since this entry was made.
        t.arm(local, p, token, due);
        return Ok(());
    }
    let Some(st) = t.st.upgrade() else {
        t.due.set(None);
        return Ok(());
    };
    let v = LuaTime::now().into_lua(lua)?;
    // A full buffer drops the tick; a channel the script closed stops the timer.
    let open = !st.borrow().closed;
    chan::offer(lua, p, &st, v);
    match t.period {
        Some(period) if open => {
            let step = Duration::from_nanos(period);
            let mut next = due + step;
            if next <= now {
                // Fell behind: skip the missed ticks.
                let behind = now.duration_since(due).as_nanos();
                let n = behind / u128::from(period) + 1;
                next = due + Duration::from_nanos((n * u128::from(period)) as u64);
            }
            t.arm(local, p, token, next);
        }
        _ => t.due.set(None),
    }
    Ok(())
}

/// A heap entry of a timer fired.
struct TimerFired(Rc<TimerState>);

impl Completion for TimerFired {
    fn complete(
        self: Box<Self>,
        lua: &Lua,
        p: &ProcState,
        token: u64,
        _result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let local = self.0.local.clone();
        on_fire(lua, &local, p, token, self.0)
    }

    fn stale(&self) -> Option<u32> {
        (self.0.st.strong_count() == 0)
            .then(|| self.0.armed.try_borrow().map_or(0, |a| a.len() as u32))
    }
}

/// `time.timer(d)` or `time.ticker(d)` userdata.
pub(crate) struct Timer {
    ctx: Rc<Ctx>,
    pid: Pid,
    /// Its worker token; a stopped timer takes a fresh one when reset (the old one's heap
    /// entries are withdrawn).
    token: Cell<u64>,
    state: Rc<TimerState>,
    /// Registry reference of its channel (released when the timer is collected).
    chan: i32,
}

impl Drop for Timer {
    fn drop(&mut self) {
        // May run inside a garbage collection: released after the step.
        crate::ffi::defer_unref(self.chan);
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("token", &self.token.get())
            .field("ticker", &self.state.period.is_some())
            .finish()
    }
}

impl Timer {
    /// Starts a timer (`period = false`) or ticker firing after `ns` (> 0) nanoseconds.
    pub(crate) fn start(lua: &Lua, ctx: &Rc<Ctx>, ns: i64, ticker: bool) -> mlua::Result<Timer> {
        let p = ctx.current()?;
        let cap = if ticker { 16 } else { 1 };
        let (chan, st) = crate::modules::channel::new_chan_charged(
            lua,
            ctx,
            chan::ChanKind::User,
            cap,
            TIMER_CHARGE,
        )?;
        let chan = crate::ffi::make_ref(lua, chan)?;
        let state = Rc::new(TimerState {
            st: Rc::downgrade(&st),
            local: ctx.local.clone(),
            due: Cell::new(None),
            armed: RefCell::new(Vec::new()),
            period: ticker.then_some(ns as u64),
        });
        let token = p.next_id();
        state.arm(&ctx.local, &p, token, after(ns));
        Ok(Timer {
            ctx: ctx.clone(),
            pid: p.pid,
            token: Cell::new(token),
            state,
            chan,
        })
    }

    fn owner(&self, func: &str) -> mlua::Result<Rc<ProcState>> {
        let p = self.ctx.current()?;
        if p.pid != self.pid {
            return Err(mlua::Error::runtime(format!(
                "{func}: timer belongs to another process"
            )));
        }
        Ok(p)
    }
}

impl UserData for Timer {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("response", |lua, t, ()| {
            crate::ffi::get_ref::<mlua::AnyUserData>(lua, t.chan)
        });
        m.add_method("channel", |lua, t, ()| {
            crate::ffi::get_ref::<mlua::AnyUserData>(lua, t.chan)
        });
        m.add_method("stop", |_, t, ()| {
            let p = t.owner("stop")?;
            let was = t.state.due.take().is_some();
            // Its pending heap entries go: a stopped timer costs nothing until reset.
            let entries = std::mem::take(&mut *t.state.armed.borrow_mut()).len() as u32;
            if entries > 0 {
                let old = t.token.replace(p.next_id());
                if let Some(rare) = p.rare_if_made() {
                    while rare.tokens.borrow_mut().remove(old).is_some() {}
                }
                t.ctx.local.cancel_timer(p.slot, old, entries);
            }
            Ok(if t.state.period.is_some() { true } else { was })
        });
        m.add_method("reset", |lua, t, d: Value| {
            let ns = match duration_arg(&d) {
                Ok(ns) if ns > 0 => ns,
                Ok(_) => {
                    return Err(mlua::Error::runtime(
                        "bad argument #1 to 'reset' (duration must be positive)",
                    ));
                }
                Err(e) => {
                    return Err(mlua::Error::runtime(format!(
                        "bad argument #1 to 'reset' ({e})"
                    )));
                }
            };
            let p = t.owner("reset")?;
            let was = t.state.due.get().is_some();
            if t.state.period.is_none() {
                // A value from before the reset is stale: the next receive gets the new one.
                if let Some(st) = t.state.st.upgrade() {
                    chan::clear_buffer(lua, &st);
                }
            }
            t.state.arm(&t.ctx.local, &p, t.token.get(), after(ns));
            Ok(was)
        });
        m.add_meta_method(mlua::MetaMethod::ToString, |_, t, ()| {
            Ok(if t.state.period.is_some() {
                "ticker"
            } else {
                "timer"
            })
        });
    }
}
