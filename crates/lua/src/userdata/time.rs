//! Time, Duration and Location values (SPEC §8.2).
//!
//! A Time is an instant plus the location it is shown in; calendar getters, `format` and
//! `add_date` work in that location. Values are owned: crossing a process boundary drops them
//! (SPEC §6).

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use mlua::{AnyUserData, Lua, MetaMethod, UserData, UserDataMethods, Value};

use crate::modules::time::layout::{self, Fields};
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

/// A point in time with the location it is shown in.
#[derive(Debug, Clone)]
pub struct LuaTime {
    /// The instant.
    pub ts: Timestamp,
    /// Location for calendar methods and formatting.
    pub loc: Loc,
}

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

/// A span of time in nanoseconds (Go's `time.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuaDuration(pub i64);

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
        Value::UserData(ud) => match ud.borrow::<LuaDuration>() {
            Ok(d) => Ok(d.0),
            Err(_) => Err("invalid duration: expected number, string or Duration".into()),
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

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::UserData(ud) if ud.is::<LuaTime>() => "Time",
        Value::UserData(ud) if ud.is::<LuaDuration>() => "Duration",
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
        Value::UserData(ud) => {
            if let Ok(t) = ud.borrow::<LuaTime>() {
                return Ok(t.clone());
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
    match v {
        Value::UserData(ud) if ud.is::<LuaDuration>() => Ok(ud.borrow::<LuaDuration>()?.0),
        other => Err(bad_arg(
            1,
            func,
            format!("Duration expected, got {}", type_name(other)),
        )),
    }
}

impl UserData for LuaTime {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("sub", |_, t, other: Value| {
            let o = time_arg(&other, 1, "sub")?;
            let ns = t.ts.as_nanosecond() - o.ts.as_nanosecond();
            Ok(LuaDuration(
                ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            ))
        });
        m.add_method("add", |_, t, d: Value| {
            let ns = duration_arg(&d).map_err(|e| bad_arg(1, "add", e))?;
            Ok(t.with_ts(add_ns(t.ts, ns.into())?))
        });
        m.add_method("add_date", |_, t, (y, mo, d): (Value, Value, Value)| {
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
        });
        m.add_method("before", |_, t, o: Value| {
            Ok(t.ts < time_arg(&o, 1, "before")?.ts)
        });
        m.add_method("after", |_, t, o: Value| {
            Ok(t.ts > time_arg(&o, 1, "after")?.ts)
        });
        m.add_method("equal", |_, t, o: Value| {
            Ok(t.ts == time_arg(&o, 1, "equal")?.ts)
        });
        m.add_method("format", |_, t, layout: Value| match layout {
            Value::String(s) => Ok(t.format(&s.to_str()?)),
            other => Err(bad_arg(
                1,
                "format",
                format!("string expected, got {}", type_name(&other)),
            )),
        });
        m.add_method("format_rfc3339", |_, t, ()| {
            Ok(t.format("2006-01-02T15:04:05Z07:00"))
        });
        m.add_method("unix", |_, t, ()| Ok(t.ts.as_second()));
        m.add_method("unix_nano", |_, t, ()| {
            Ok(t.ts.as_nanosecond().clamp(i64::MIN.into(), i64::MAX.into()) as i64)
        });
        m.add_method("date", |_, t, ()| {
            let f = t.fields();
            Ok((f.year, f.month, f.day))
        });
        m.add_method("clock", |_, t, ()| {
            let f = t.fields();
            Ok((f.hour, f.minute, f.second))
        });
        m.add_method("year", |_, t, ()| Ok(t.fields().year));
        m.add_method("month", |_, t, ()| Ok(t.fields().month));
        m.add_method("day", |_, t, ()| Ok(t.fields().day));
        m.add_method("hour", |_, t, ()| Ok(t.fields().hour));
        m.add_method("minute", |_, t, ()| Ok(t.fields().minute));
        m.add_method("second", |_, t, ()| Ok(t.fields().second));
        m.add_method("nanosecond", |_, t, ()| Ok(t.fields().nanos));
        m.add_method("weekday", |_, t, ()| Ok(t.fields().weekday));
        m.add_method("year_day", |_, t, ()| Ok(t.fields().year_day));
        // Go's zero Time is January 1, year 1, 00:00:00 UTC.
        m.add_method("is_zero", |_, t, ()| {
            Ok(t.ts.as_nanosecond() == -ZERO_TO_UNIX_NS)
        });
        m.add_method("utc", |_, t, ()| {
            Ok(LuaTime {
                ts: t.ts,
                loc: Loc::utc(),
            })
        });
        m.add_method("in_local", |_, t, ()| {
            Ok(LuaTime {
                ts: t.ts,
                loc: Loc::local(),
            })
        });
        m.add_method("in_location", |_, t, l: Value| {
            if l.is_nil() {
                return Err(bad_arg(1, "in_location", "Location expected, got no value"));
            }
            Ok(LuaTime {
                ts: t.ts,
                loc: loc_arg(&l, 1, "in_location", Loc::utc)?,
            })
        });
        m.add_method("location", |_, t, ()| Ok(LuaLocation(t.loc.clone())));
        m.add_method("truncate", |_, t, d: Value| {
            let d = i128::from(duration_only(&d, "truncate")?);
            if d <= 0 {
                return Ok(t.clone());
            }
            let since_zero = t.ts.as_nanosecond() + ZERO_TO_UNIX_NS;
            Ok(t.with_ts(add_ns(t.ts, -since_zero.rem_euclid(d))?))
        });
        m.add_method("round", |_, t, d: Value| {
            let d = i128::from(duration_only(&d, "round")?);
            if d <= 0 {
                return Ok(t.clone());
            }
            let r = (t.ts.as_nanosecond() + ZERO_TO_UNIX_NS).rem_euclid(d);
            // Halfway values round up.
            let delta = if r + r < d { -r } else { d - r };
            Ok(t.with_ts(add_ns(t.ts, delta)?))
        });
        m.add_meta_method(MetaMethod::ToString, |_, t, ()| {
            Ok(t.format("2006-01-02T15:04:05.999999999Z07:00"))
        });
        m.add_meta_method(MetaMethod::Eq, |_, t, o: AnyUserData| {
            Ok(o.borrow::<LuaTime>().is_ok_and(|o| o.ts == t.ts))
        });
        m.add_meta_method(MetaMethod::Lt, |_, t, o: Value| {
            Ok(t.ts < time_arg(&o, 2, "__lt")?.ts)
        });
        m.add_meta_method(MetaMethod::Le, |_, t, o: Value| {
            Ok(t.ts <= time_arg(&o, 2, "__le")?.ts)
        });
    }
}

impl UserData for LuaDuration {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("nanoseconds", |_, d, ()| Ok(d.0));
        m.add_method("microseconds", |_, d, ()| Ok(d.0 / 1_000));
        m.add_method("milliseconds", |_, d, ()| Ok(d.0 / 1_000_000));
        m.add_method("seconds", |_, d, ()| Ok(d.0 as f64 / 1e9));
        m.add_method("minutes", |_, d, ()| Ok(d.0 as f64 / 60e9));
        m.add_method("hours", |_, d, ()| Ok(d.0 as f64 / 3600e9));
        m.add_meta_method(MetaMethod::ToString, |_, d, ()| {
            Ok(starling_entry::format_go_duration(d.0))
        });
        m.add_meta_method(MetaMethod::Eq, |_, d, o: AnyUserData| {
            Ok(o.borrow::<LuaDuration>().is_ok_and(|o| o.0 == d.0))
        });
        m.add_meta_method(MetaMethod::Lt, |_, d, o: AnyUserData| {
            Ok(d.0 < o.borrow::<LuaDuration>()?.0)
        });
        m.add_meta_method(MetaMethod::Le, |_, d, o: AnyUserData| {
            Ok(d.0 <= o.borrow::<LuaDuration>()?.0)
        });
    }
}

/// Creates a Time userdata value.
pub(crate) fn time_value(lua: &Lua, ts: Timestamp, loc: Loc) -> mlua::Result<Value> {
    Ok(Value::UserData(lua.create_userdata(LuaTime { ts, loc })?))
}
