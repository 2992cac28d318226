//! Time and Duration values (SPEC §8.2).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use mlua::{AnyUserData, MetaMethod, UserData, UserDataMethods, Value};

/// A point in time with the location it is shown in.
#[derive(Debug, Clone)]
pub struct LuaTime {
    /// The instant.
    pub ts: Timestamp,
    /// Location for calendar methods and formatting.
    pub tz: TimeZone,
}

impl LuaTime {
    /// The current time in the local zone.
    pub fn now() -> LuaTime {
        LuaTime {
            ts: Timestamp::now(),
            tz: TimeZone::system(),
        }
    }

    fn zoned(&self) -> jiff::Zoned {
        self.ts.to_zoned(self.tz.clone())
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

fn time_arg(ud: &AnyUserData) -> mlua::Result<LuaTime> {
    Ok(ud.borrow::<LuaTime>()?.clone())
}

impl UserData for LuaTime {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("sub", |_, t, other: AnyUserData| {
            let o = time_arg(&other)?;
            let ns = t.ts.as_nanosecond() - o.ts.as_nanosecond();
            Ok(LuaDuration(
                ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            ))
        });
        m.add_method("add", |_, t, d: Value| {
            let ns = duration_arg(&d).map_err(mlua::Error::runtime)?;
            let ts = Timestamp::from_nanosecond(t.ts.as_nanosecond() + ns as i128)
                .map_err(|e| mlua::Error::runtime(format!("time out of range: {e}")))?;
            Ok(LuaTime {
                ts,
                tz: t.tz.clone(),
            })
        });
        m.add_method("before", |_, t, o: AnyUserData| Ok(t.ts < time_arg(&o)?.ts));
        m.add_method("after", |_, t, o: AnyUserData| Ok(t.ts > time_arg(&o)?.ts));
        m.add_method("equal", |_, t, o: AnyUserData| Ok(t.ts == time_arg(&o)?.ts));
        m.add_method("unix", |_, t, ()| Ok(t.ts.as_second()));
        m.add_method("unix_nano", |_, t, ()| Ok(t.ts.as_nanosecond() as i64));
        m.add_method("is_zero", |_, t, ()| Ok(t.ts == Timestamp::UNIX_EPOCH));
        m.add_method("year", |_, t, ()| Ok(t.zoned().year()));
        m.add_method("month", |_, t, ()| Ok(t.zoned().month()));
        m.add_method("day", |_, t, ()| Ok(t.zoned().day()));
        m.add_method("hour", |_, t, ()| Ok(t.zoned().hour()));
        m.add_method("minute", |_, t, ()| Ok(t.zoned().minute()));
        m.add_method("second", |_, t, ()| Ok(t.zoned().second()));
        m.add_method("nanosecond", |_, t, ()| Ok(t.zoned().subsec_nanosecond()));
        m.add_method("weekday", |_, t, ()| {
            Ok(t.zoned().weekday().to_sunday_zero_offset())
        });
        m.add_method("year_day", |_, t, ()| Ok(t.zoned().day_of_year()));
        m.add_method("utc", |_, t, ()| {
            Ok(LuaTime {
                ts: t.ts,
                tz: TimeZone::UTC,
            })
        });
        m.add_method("in_local", |_, t, ()| {
            Ok(LuaTime {
                ts: t.ts,
                tz: TimeZone::system(),
            })
        });
        m.add_method("format_rfc3339", |_, t, ()| Ok(rfc3339(t)));
        m.add_meta_method(MetaMethod::ToString, |_, t, ()| Ok(rfc3339(t)));
        m.add_meta_method(MetaMethod::Eq, |_, t, o: AnyUserData| {
            Ok(o.borrow::<LuaTime>().is_ok_and(|o| o.ts == t.ts))
        });
        m.add_meta_method(MetaMethod::Lt, |_, t, o: AnyUserData| {
            Ok(t.ts < time_arg(&o)?.ts)
        });
        m.add_meta_method(MetaMethod::Le, |_, t, o: AnyUserData| {
            Ok(t.ts <= time_arg(&o)?.ts)
        });
    }
}

fn rfc3339(t: &LuaTime) -> String {
    let z = t.zoned();
    let off = z.offset().seconds();
    let base = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = z.subsec_nanosecond();
    let mut s = base;
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    if off == 0 {
        s.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
    }
    s
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
