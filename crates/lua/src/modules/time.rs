//! `time` (SPEC §8): sleeping, timeouts, timers and tickers, the clock, calendar values,
//! Go layouts (`layout`) and locations.

pub(crate) mod layout;

use std::rc::Rc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mlua::{IntoLua, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::seal;
use crate::engine::Ctx;
use crate::modules::channel::new_chan_charged;
use crate::rt::chan::{self, ChanKind, ChanState};
use crate::rt::hot;
use crate::rt::proc::{Completion, ProcState};
use crate::rt::task::{Got, WaitKind, Waiter, Waker};
use crate::userdata::error::fail;
use crate::userdata::time::{
    Loc, LuaDuration, LuaLocation, LuaTime, civil, duration_arg, int_arg, loc_arg, opt_int_arg,
    time_value,
};
use crate::userdata::timer::{TIMER_CHARGE, Timer};

/// Layout constants (Go reference layouts).
pub(crate) const LAYOUTS: [(&str, &str); 15] = [
    ("RFC3339", "2006-01-02T15:04:05Z07:00"),
    ("RFC3339NANO", "2006-01-02T15:04:05.999999999Z07:00"),
    ("RFC822", "02 Jan 06 15:04 MST"),
    ("RFC822Z", "02 Jan 06 15:04 -0700"),
    ("RFC850", "Monday, 02-Jan-06 15:04:05 MST"),
    ("RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"),
    ("RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"),
    ("KITCHEN", "3:04PM"),
    ("STAMP", "Jan _2 15:04:05"),
    ("STAMP_MILLI", "Jan _2 15:04:05.000"),
    ("STAMP_MICRO", "Jan _2 15:04:05.000000"),
    ("STAMP_NANO", "Jan _2 15:04:05.000000000"),
    ("DATE_TIME", "2006-01-02 15:04:05"),
    ("DATE_ONLY", "2006-01-02"),
    ("TIME_ONLY", "15:04:05"),
];

fn deadline(ctx: &Ctx, ns: i64) -> Instant {
    ctx.local.now() + Duration::from_nanos(ns as u64)
}

/// A sleep ended: wake the task.
struct Slept {
    task: u32,
    wait: u64,
}

impl Completion for Slept {
    fn complete(
        self: Box<Self>,
        _lua: &Lua,
        p: &ProcState,
        _token: u64,
        _result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let w = Waiter {
            task: self.task,
            wait: self.wait,
            case: 0,
        };
        let _ = p.wake(w, Got::Nothing, true);
        Ok(())
    }
}

/// A `time.after` deadline: the current time goes into the channel, which then closes. The
/// channel is held weakly: once the script lets go of it the timer is stale (nobody could
/// receive its tick) and is dropped, with its heap entry.
struct AfterFired(std::rc::Weak<std::cell::RefCell<ChanState>>);

impl Completion for AfterFired {
    fn complete(
        self: Box<Self>,
        lua: &Lua,
        p: &ProcState,
        _token: u64,
        _result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let Some(st) = self.0.upgrade() else {
            return Ok(());
        };
        let now = LuaTime::now().into_lua(lua)?;
        // The owner may have closed the channel already; the tick is then dropped.
        chan::offer(lua, p, &st, now);
        chan::close_outside(lua, p, &st);
        Ok(())
    }

    fn stale(&self) -> Option<u32> {
        (self.0.strong_count() == 0).then_some(1)
    }
}

pub(crate) fn install_raw(lua: &Lua, ctx: &Rc<Ctx>, raw: &Table) -> mlua::Result<()> {
    let c = ctx.clone();
    raw.raw_set(
        "sleep",
        lua.create_function(move |lua, d: Value| {
            let ns = match duration_arg(&d) {
                Ok(ns) => ns,
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            if ns <= 0 {
                return Ok(MultiValue::new());
            }
            let p = c.current()?;
            let task = c.current_task()?;
            let wait = p.set_wait(task, WaitKind::Sleep);
            let token = c.token(&p, Box::new(Slept { task, wait }));
            c.local.add_timer(p.slot, deadline(&c, ns), token);
            Ok(c.pending())
        })?,
    )?;
    Ok(())
}

/// Builds the `time` module table.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>, prelude: &Table) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("sleep", prelude.get::<Value>("sleep")?)?;

    let c = ctx.clone();
    t.raw_set(
        "after",
        lua.create_function(move |lua, d: Value| {
            let ns = match duration_arg(&d) {
                Ok(ns) if ns > 0 => ns,
                Ok(_) => return fail(lua, ErrorKind::Invalid, "duration must be positive"),
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let p = c.current()?;
            let (ud, st) = new_chan_charged(lua, &c, ChanKind::User, 1, TIMER_CHARGE)?;
            let token = c.token(&p, Box::new(AfterFired(Rc::downgrade(&st))));
            c.local.add_timer(p.slot, deadline(&c, ns), token);
            Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))
        })?,
    )?;

    t.raw_set(
        "now",
        crate::ffi::c_function::<hot::TimeNow>(lua, c"now", None)?,
    )?;
    t.raw_set(
        "unix",
        lua.create_function(|lua, (sec, nsec): (Value, Value)| {
            let sec = int_arg(&sec, 1, "unix")?;
            let nsec = opt_int_arg(&nsec, 2, "unix")?;
            let ns = sec as i128 * 1_000_000_000 + nsec as i128;
            let ts = Timestamp::from_nanosecond(ns)
                .map_err(|e| mlua::Error::runtime(format!("time out of range: {e}")))?;
            time_value(lua, ts, Loc::local())
        })?,
    )?;
    t.raw_set(
        "date",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let get = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
            let mut parts = [0i64; 7];
            for (i, part) in parts.iter_mut().enumerate() {
                *part = if i < 3 {
                    int_arg(&get(i), i + 1, "date")?
                } else {
                    opt_int_arg(&get(i), i + 1, "date")?
                };
            }
            let loc = loc_arg(&get(7), 8, "date", Loc::local)?;
            match civil(parts, &loc) {
                Ok(ts) => Ok(MultiValue::from_vec(vec![time_value(lua, ts, loc)?])),
                Err(e) => fail(lua, ErrorKind::Invalid, e),
            }
        })?,
    )?;
    t.raw_set(
        "parse",
        lua.create_function(|lua, (l, v, loc): (Value, Value, Value)| {
            let l = crate::args::str_arg(Some(&l), "parse", 1)?;
            let v = crate::args::str_arg(Some(&v), "parse", 2)?;
            let loc = loc_arg(&loc, 3, "parse", Loc::local)?;
            let parsed = layout::parse(&l, &v).and_then(|p| layout::resolve(&p, &loc));
            match parsed {
                Ok((ts, loc)) => Ok(MultiValue::from_vec(vec![time_value(lua, ts, loc)?])),
                Err(e) => fail(lua, ErrorKind::Invalid, e.to_string()),
            }
        })?,
    )?;
    t.raw_set(
        "load_location",
        lua.create_function(|lua, name: Value| {
            let name = crate::args::str_arg(Some(&name), "load_location", 1)?;
            if name.is_empty() {
                return fail(lua, ErrorKind::Invalid, "location name is empty");
            }
            match Loc::named(&name) {
                Ok(loc) => Ok(MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(LuaLocation(loc))?,
                )])),
                Err(_) => fail(
                    lua,
                    ErrorKind::NotFound,
                    format!("unknown time zone {name}"),
                ),
            }
        })?,
    )?;
    t.raw_set(
        "fixed_zone",
        lua.create_function(|lua, (name, offset): (Value, Value)| {
            let name = crate::args::str_arg(Some(&name), "fixed_zone", 1)?;
            let offset = int_arg(&offset, 2, "fixed_zone")?;
            match Loc::fixed(&name, offset) {
                Ok(loc) => Ok(MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(LuaLocation(loc))?,
                )])),
                Err(e) => fail(lua, ErrorKind::Invalid, e),
            }
        })?,
    )?;
    for (name, ticker) in [("timer", false), ("ticker", true)] {
        let c = ctx.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, d: Value| {
                let ns = match duration_arg(&d) {
                    Ok(ns) if ns > 0 => ns,
                    Ok(_) => return fail(lua, ErrorKind::Invalid, "duration must be positive"),
                    Err(e) => return fail(lua, ErrorKind::Invalid, e),
                };
                let timer = Timer::start(lua, &c, ns, ticker)?;
                Ok(MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(timer)?,
                )]))
            })?,
        )?;
    }
    t.raw_set("utc", LuaLocation(Loc::utc()))?;
    t.raw_set("localtz", LuaLocation(Loc::local()))?;
    t.raw_set(
        "parse_duration",
        lua.create_function(|lua, v: Value| match duration_arg(&v) {
            Ok(ns) => Ok(MultiValue::from_vec(vec![LuaDuration(ns).into_lua(lua)?])),
            Err(e) => fail(lua, ErrorKind::Invalid, e),
        })?,
    )?;

    for (name, ns) in [
        ("NANOSECOND", 1i64),
        ("MICROSECOND", 1_000),
        ("MILLISECOND", 1_000_000),
        ("SECOND", 1_000_000_000),
        ("MINUTE", 60_000_000_000),
        ("HOUR", 3_600_000_000_000),
    ] {
        t.raw_set(name, ns)?;
    }
    for (i, m) in [
        "JANUARY",
        "FEBRUARY",
        "MARCH",
        "APRIL",
        "MAY",
        "JUNE",
        "JULY",
        "AUGUST",
        "SEPTEMBER",
        "OCTOBER",
        "NOVEMBER",
        "DECEMBER",
    ]
    .iter()
    .enumerate()
    {
        t.raw_set(*m, i + 1)?;
    }
    for (i, d) in [
        "SUNDAY",
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
    ]
    .iter()
    .enumerate()
    {
        t.raw_set(*d, i)?;
    }
    for (k, v) in LAYOUTS {
        t.raw_set(k, v)?;
    }
    Ok(seal(&t))
}
