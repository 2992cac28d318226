//! Time, Duration and Location values (SPEC §8.2).
//!
//! A Time is an instant plus the location it is shown in; calendar getters, `format` and
//! `add_date` work in that location. Values are owned: crossing a process boundary drops them
//! (SPEC §6).

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use std::os::raw::c_int;

use mlua::{
    AnyUserData, FromLuaMulti, Function, IntoLua, IntoLuaMulti, Lua, MetaMethod, Table, UserData,
    UserDataMethods, Value,
};

use crate::modules::time::layout::{self, Fields};
use crate::rt::hot;
use crate::rt::values::Tagged;
pub use crate::userdata::loc::Loc;

/// Nanoseconds from Go's zero time (0001-01-01 UTC) to the Unix epoch.
const ZERO_TO_UNIX_NS: i128 = 62_135_596_800 * 1_000_000_000;

/// A Location as scripts hold it.
#[derive(Debug, Clone)]
pub struct LuaLocation(pub Loc);

impl UserData for LuaLocation {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("string", |_, l, ()| Ok(l.0.name.to_string()));
        m.add_meta_method(MetaMethod::ToString, |_, l, ()| Ok(l.0.name.to_string()));
        m.add_meta_method(MetaMethod::Eq, |_, l, o: AnyUserData| {
            Ok(o.borrow::<LuaLocation>()
                .is_ok_and(|o| o.0.name == l.0.name && o.0.tz == l.0.tz))
        });
    }
}

pub use crate::rt::values::{LuaDuration, LuaTime};

impl LuaTime {
    /// The current time in the local zone.
    pub fn now() -> LuaTime {
        LuaTime {
            ts: Timestamp::now(),
            loc: Loc::local(),
        }
    }

    /// Calendar fields in the time's location.
    pub(crate) fn fields(&self) -> Fields {
        Fields::of(self.ts, &self.loc.tz, self.loc.abbrev())
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        layout::format(layout, &self.fields())
    }

    fn with_ts(&self, ts: Timestamp) -> LuaTime {
        LuaTime {
            ts,
            loc: self.loc.clone(),
        }
    }
}

/// Reads a duration argument: nanoseconds as a number, a Duration, or a Go duration string.
pub fn duration_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Number(n) if n.is_finite() => Ok(n.trunc() as i64),
        Value::Number(_) => Err("invalid duration: not a finite number".into()),
        Value::String(s) => {
            let s = s
                .to_str()
                .map_err(|_| "invalid duration: not UTF-8".to_string())?;
            starling_entry::parse_go_duration(&s).map_err(|e| e.to_string())
        }
        Value::UserData(_) => match vm().and_then(|lua| crate::ffi::tagged::<LuaDuration>(&lua, v))
        {
            Some(d) => Ok(d.0),
            None => Err("invalid duration: expected number, string or Duration".into()),
        },
        other => Err(format!(
            "invalid duration: expected number, string or Duration, got {}",
            other.type_name()
        )),
    }
}

fn bad_arg(pos: usize, func: &str, msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{pos} to '{func}' ({msg})"))
}

/// The VM of the running process (time values are read through it).
fn vm() -> Option<Lua> {
    crate::engine::Ctx::get().and_then(|c| c.lua())
}

fn type_name(v: &Value) -> &'static str {
    let tag = match v {
        Value::UserData(_) => vm().and_then(|lua| crate::ffi::tag_of(&lua, v)),
        _ => None,
    };
    match v {
        _ if tag == Some(LuaTime::TAG) => "Time",
        _ if tag == Some(LuaDuration::TAG) => "Duration",
        Value::UserData(ud) if ud.is::<LuaLocation>() => "Location",
        Value::Nil => "no value",
        other => other.type_name(),
    }
}

/// A required integer argument (a Luau number with an integral value).
pub(crate) fn int_arg(v: &Value, pos: usize, func: &str) -> mlua::Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.3e18 => Ok(*n as i64),
        Value::Number(_) => Err(bad_arg(pos, func, "number has no integer representation")),
        other => Err(bad_arg(
            pos,
            func,
            format!("number expected, got {}", type_name(other)),
        )),
    }
}

/// An optional integer argument, `0` when nil.
pub(crate) fn opt_int_arg(v: &Value, pos: usize, func: &str) -> mlua::Result<i64> {
    match v {
        Value::Nil => Ok(0),
        v => int_arg(v, pos, func),
    }
}

/// A required Time argument.
pub(crate) fn time_arg(v: &Value, pos: usize, func: &str) -> mlua::Result<LuaTime> {
    match v {
        Value::UserData(_) => {
            if let Some(t) = vm().and_then(|lua| crate::ffi::tagged::<LuaTime>(&lua, v)) {
                return Ok(t);
            }
            Err(bad_arg(
                pos,
                func,
                format!("Time expected, got {}", type_name(v)),
            ))
        }
        other => Err(bad_arg(
            pos,
            func,
            format!("Time expected, got {}", type_name(other)),
        )),
    }
}

/// A Location argument; nil gives `default`.
pub(crate) fn loc_arg(
    v: &Value,
    pos: usize,
    func: &str,
    default: fn() -> Loc,
) -> mlua::Result<Loc> {
    match v {
        Value::Nil => Ok(default()),
        Value::UserData(ud) if ud.is::<LuaLocation>() => Ok(ud.borrow::<LuaLocation>()?.0.clone()),
        other => Err(bad_arg(
            pos,
            func,
            format!("Location expected, got {}", type_name(other)),
        )),
    }
}

fn out_of_range(e: impl std::fmt::Display) -> String {
    format!("time out of range: {e}")
}

/// Go's `time.Date`: the fields may be out of their usual ranges and normalise (month 13 is
/// January of the next year, second 60 the next minute, day 0 the last day of the month
/// before). A civil time that a zone transition skips or repeats takes the offset in force
/// before the transition (jiff's "compatible" rule).
pub fn civil(parts: [i64; 7], loc: &Loc) -> Result<Timestamp, String> {
    let [y, mo, d, h, mi, s, ns] = parts.map(i128::from);
    let m0 = mo - 1;
    let year = y + m0.div_euclid(12);
    let month = m0.rem_euclid(12) + 1;
    if !(-9999..=9999).contains(&year) {
        return Err(out_of_range(format!("year {year}")));
    }
    let base = DateTime::new(year as i16, month as i8, 1, 0, 0, 0, 0).map_err(out_of_range)?;
    let secs = (d - 1) * 86_400 + h * 3_600 + mi * 60 + s + ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as i32;
    let secs = i64::try_from(secs).map_err(|_| out_of_range("too many seconds"))?;
    let dt = base
        .checked_add(SignedDuration::new(secs, nanos))
        .map_err(out_of_range)?;
    loc.tz
        .to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(out_of_range)
}

fn add_ns(ts: Timestamp, ns: i128) -> mlua::Result<Timestamp> {
    Timestamp::from_nanosecond(ts.as_nanosecond() + ns)
        .map_err(|e| mlua::Error::runtime(out_of_range(e)))
}

fn duration_only(v: &Value, func: &str) -> mlua::Result<i64> {
    let d = match v {
        Value::UserData(_) => vm().and_then(|lua| crate::ffi::tagged::<LuaDuration>(&lua, v)),
        _ => None,
    };
    d.map(|d| d.0)
        .ok_or_else(|| bad_arg(1, func, format!("Duration expected, got {}", type_name(v))))
}

/// A Time or Duration method as a function: `f(lua, self, args)`, with `self` checked to be
/// a `T`.
fn method_fn<T, A, R>(
    lua: &Lua,
    name: &'static str,
    f: impl Fn(&Lua, &T, A) -> mlua::Result<R> + 'static,
) -> mlua::Result<Function>
where
    T: Tagged + Clone,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    lua.create_function(move |lua, (this, args): (Value, A)| {
        let Some(t) = crate::ffi::tagged::<T>(lua, &this) else {
            return Err(bad_arg(
                1,
                name,
                format!("{} expected, got {}", tag_name(T::TAG), type_name(&this)),
            ));
        };
        f(lua, &t, args)
    })
}

/// [`method_fn`], set as `methods[name]`.
fn method<T, A, R>(
    lua: &Lua,
    methods: &Table,
    name: &'static str,
    f: impl Fn(&Lua, &T, A) -> mlua::Result<R> + 'static,
) -> mlua::Result<()>
where
    T: Tagged + Clone,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    methods.raw_set(name, method_fn(lua, name, f)?)
}

fn tag_name(tag: c_int) -> &'static str {
    if tag == LuaTime::TAG {
        "Time"
    } else {
        "Duration"
    }
}

/// Sets the metatables of Time and Duration values (once per VM). `sub` and `nanoseconds`
/// (the pair every latency measurement runs) and `time.now` are raw C functions
/// (`rt::hot`); the functions here are their slow twins for bad arguments.
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    let sub = method_fn(lua, "sub", |_, t: &LuaTime, other: Value| {
        Ok(t.since(&time_arg(&other, 1, "sub")?))
    })?;
    methods.raw_set(
        "sub",
        crate::ffi::c_function::<hot::TimeSub>(lua, c"sub", Some(&sub))?,
    )?;
    method(lua, &methods, "add", |_, t: &LuaTime, d: Value| {
        let ns = duration_arg(&d).map_err(|e| bad_arg(1, "add", e))?;
        Ok(t.with_ts(add_ns(t.ts, ns.into())?))
    })?;
    method(
        lua,
        &methods,
        "add_date",
        |_, t: &LuaTime, (y, mo, d): (Value, Value, Value)| {
            let (y, mo, d) = (
                opt_int_arg(&y, 1, "add_date")?,
                opt_int_arg(&mo, 2, "add_date")?,
                opt_int_arg(&d, 3, "add_date")?,
            );
            let f = t.fields();
            let parts = [
                i64::from(f.year).saturating_add(y),
                i64::from(f.month).saturating_add(mo),
                i64::from(f.day).saturating_add(d),
                f.hour.into(),
                f.minute.into(),
                f.second.into(),
                f.nanos.into(),
            ];
            let ts = civil(parts, &t.loc).map_err(mlua::Error::runtime)?;
            Ok(t.with_ts(ts))
        },
    )?;
    method(lua, &methods, "before", |_, t: &LuaTime, o: Value| {
        Ok(t.ts < time_arg(&o, 1, "before")?.ts)
    })?;
    method(lua, &methods, "after", |_, t: &LuaTime, o: Value| {
        Ok(t.ts > time_arg(&o, 1, "after")?.ts)
    })?;
    method(lua, &methods, "equal", |_, t: &LuaTime, o: Value| {
        Ok(t.ts == time_arg(&o, 1, "equal")?.ts)
    })?;
    method(
        lua,
        &methods,
        "format",
        |_, t: &LuaTime, layout: Value| match layout {
            Value::String(s) => Ok(t.format(&s.to_str()?)),
            other => Err(bad_arg(
                1,
                "format",
                format!("string expected, got {}", type_name(&other)),
            )),
        },
    )?;
    method(lua, &methods, "format_rfc3339", |_, t: &LuaTime, ()| {
        Ok(t.format("2006-01-02T15:04:05Z07:00"))
    })?;
    method(lua, &methods, "unix", |_, t: &LuaTime, ()| {
        Ok(t.ts.as_second())
    })?;
    method(lua, &methods, "unix_nano", |_, t: &LuaTime, ()| {
        Ok(t.ts.as_nanosecond().clamp(i64::MIN.into(), i64::MAX.into()) as i64)
    })?;
    method(lua, &methods, "date", |_, t: &LuaTime, ()| {
        let f = t.fields();
        Ok((f.year, f.month, f.day))
    })?;
    method(lua, &methods, "clock", |_, t: &LuaTime, ()| {
        let f = t.fields();
        Ok((f.hour, f.minute, f.second))
    })?;
    method(lua, &methods, "year", |_, t: &LuaTime, ()| {
        Ok(t.fields().year)
    })?;
    method(lua, &methods, "month", |_, t: &LuaTime, ()| {
        Ok(t.fields().month)
    })?;
    method(lua, &methods, "day", |_, t: &LuaTime, ()| {
        Ok(t.fields().day)
    })?;
    method(lua, &methods, "hour", |_, t: &LuaTime, ()| {
        Ok(t.fields().hour)
    })?;
    method(lua, &methods, "minute", |_, t: &LuaTime, ()| {
        Ok(t.fields().minute)
    })?;
    method(lua, &methods, "second", |_, t: &LuaTime, ()| {
        Ok(t.fields().second)
    })?;
    method(lua, &methods, "nanosecond", |_, t: &LuaTime, ()| {
        Ok(t.fields().nanos)
    })?;
    method(lua, &methods, "weekday", |_, t: &LuaTime, ()| {
        Ok(t.fields().weekday)
    })?;
    method(lua, &methods, "year_day", |_, t: &LuaTime, ()| {
        Ok(t.fields().year_day)
    })?;
    // Go's zero Time is January 1, year 1, 00:00:00 UTC.
    method(lua, &methods, "is_zero", |_, t: &LuaTime, ()| {
        Ok(t.ts.as_nanosecond() == -ZERO_TO_UNIX_NS)
    })?;
    method(lua, &methods, "utc", |_, t: &LuaTime, ()| {
        Ok(LuaTime {
            ts: t.ts,
            loc: Loc::utc(),
        })
    })?;
    method(lua, &methods, "in_local", |_, t: &LuaTime, ()| {
        Ok(LuaTime {
            ts: t.ts,
            loc: Loc::local(),
        })
    })?;
    method(lua, &methods, "in_location", |_, t: &LuaTime, l: Value| {
        if l.is_nil() {
            return Err(bad_arg(1, "in_location", "Location expected, got no value"));
        }
        Ok(LuaTime {
            ts: t.ts,
            loc: loc_arg(&l, 1, "in_location", Loc::utc)?,
        })
    })?;
    method(lua, &methods, "location", |_, t: &LuaTime, ()| {
        Ok(LuaLocation(t.loc.clone()))
    })?;
    method(lua, &methods, "truncate", |_, t: &LuaTime, d: Value| {
        let d = i128::from(duration_only(&d, "truncate")?);
        if d <= 0 {
            return Ok(t.clone());
        }
        let since_zero = t.ts.as_nanosecond() + ZERO_TO_UNIX_NS;
        Ok(t.with_ts(add_ns(t.ts, -since_zero.rem_euclid(d))?))
    })?;
    method(lua, &methods, "round", |_, t: &LuaTime, d: Value| {
        let d = i128::from(duration_only(&d, "round")?);
        if d <= 0 {
            return Ok(t.clone());
        }
        let r = (t.ts.as_nanosecond() + ZERO_TO_UNIX_NS).rem_euclid(d);
        // Halfway values round up.
        let delta = if r + r < d { -r } else { d - r };
        Ok(t.with_ts(add_ns(t.ts, delta)?))
    })?;
    let meta = lua.create_table()?;
    meta.raw_set("__index", methods)?;
    method(lua, &meta, "__tostring", |_, t: &LuaTime, ()| {
        Ok(t.format("2006-01-02T15:04:05.999999999Z07:00"))
    })?;
    method(lua, &meta, "__eq", |lua, t: &LuaTime, o: Value| {
        Ok(crate::ffi::tagged::<LuaTime>(lua, &o).is_some_and(|o| o.ts == t.ts))
    })?;
    method(lua, &meta, "__lt", |_, t: &LuaTime, o: Value| {
        Ok(t.ts < time_arg(&o, 2, "__lt")?.ts)
    })?;
    method(lua, &meta, "__le", |_, t: &LuaTime, o: Value| {
        Ok(t.ts <= time_arg(&o, 2, "__le")?.ts)
    })?;
    meta.raw_set("__metatable", false)?;
    meta.set_readonly(true);
    crate::ffi::register_tag::<LuaTime>(lua, &meta)?;

    let methods = lua.create_table()?;
    let nanoseconds = method_fn(lua, "nanoseconds", |_, d: &LuaDuration, ()| Ok(d.0))?;
    methods.raw_set(
        "nanoseconds",
        crate::ffi::c_function::<hot::DurationNanoseconds>(
            lua,
            c"nanoseconds",
            Some(&nanoseconds),
        )?,
    )?;
    method(lua, &methods, "microseconds", |_, d: &LuaDuration, ()| {
        Ok(d.0 / 1_000)
    })?;
    method(lua, &methods, "milliseconds", |_, d: &LuaDuration, ()| {
        Ok(d.0 / 1_000_000)
    })?;
    method(lua, &methods, "seconds", |_, d: &LuaDuration, ()| {
        Ok(d.0 as f64 / 1e9)
    })?;
    method(lua, &methods, "minutes", |_, d: &LuaDuration, ()| {
        Ok(d.0 as f64 / 60e9)
    })?;
    method(lua, &methods, "hours", |_, d: &LuaDuration, ()| {
        Ok(d.0 as f64 / 3600e9)
    })?;
    let meta = lua.create_table()?;
    meta.raw_set("__index", methods)?;
    method(lua, &meta, "__tostring", |_, d: &LuaDuration, ()| {
        Ok(starling_entry::format_go_duration(d.0))
    })?;
    method(lua, &meta, "__eq", |lua, d: &LuaDuration, o: Value| {
        Ok(crate::ffi::tagged::<LuaDuration>(lua, &o).is_some_and(|o| o.0 == d.0))
    })?;
    method(lua, &meta, "__lt", |_, d: &LuaDuration, o: Value| {
        Ok(d.0 < duration_only(&o, "__lt")?)
    })?;
    method(lua, &meta, "__le", |_, d: &LuaDuration, o: Value| {
        Ok(d.0 <= duration_only(&o, "__le")?)
    })?;
    meta.raw_set("__metatable", false)?;
    meta.set_readonly(true);
    crate::ffi::register_tag::<LuaDuration>(lua, &meta)
}

impl IntoLua for LuaTime {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        Ok(Value::UserData(crate::ffi::new_udata(lua, self)?))
    }
}

impl IntoLua for LuaDuration {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        Ok(Value::UserData(crate::ffi::new_udata(lua, self)?))
    }
}

/// Creates a Time value.
pub(crate) fn time_value(lua: &Lua, ts: Timestamp, loc: Loc) -> mlua::Result<Value> {
    LuaTime { ts, loc }.into_lua(lua)
}
