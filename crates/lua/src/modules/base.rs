//! Base globals (SPEC §4.2): `print` to the log, `require`, the restricted `os`, Unicode-aware
//! `string.upper`/`lower`, string functions that accept error objects (`strings.lua`), Lua 5.3
//! `math` shims and bitwise-operator helpers (`bitops.lua`), a minimal `package`, and the
//! out-of-scope event-bus functions.

use std::rc::Rc;

use mlua::{Lua, MultiValue, Table, Value};

use crate::args::seal;
use crate::args::tostring;
use crate::engine::{Ctx, misuse};
use crate::ffi::c_function;
use crate::modules::logger::emit;
use crate::rt::hot;
use crate::services::Level;

/// String functions that accept error objects (see the file).
const STRINGS: &str = include_str!("strings.lua");
/// Lua 5.3 bitwise operators for lowered sources (see the file and `syntax.rs`).
const BITOPS: &str = include_str!("bitops.lua");

/// The string a `string.*` function works on: a string or number as Luau takes it, or an
/// error object (any userdata with `__tostring`) as its message.
fn subject(lua: &Lua, v: Value, func: &str) -> mlua::Result<mlua::LuaString> {
    match v {
        Value::String(s) => Ok(s),
        Value::Integer(_) | Value::Number(_) | Value::UserData(_) => {
            lua.create_string(tostring(lua, &v)?)
        }
        other => Err(mlua::Error::runtime(format!(
            "bad argument #1 to '{func}' (string expected, got {})",
            crate::args::arg_type(&other)
        ))),
    }
}

/// The slow half of `string.upper` / `string.lower`: numbers and error objects stand for
/// their text.
fn case_twin(lua: &Lua, func: &'static str, upper: bool) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, s: Value| {
        let s = subject(lua, s, func)?;
        let b = s.as_bytes();
        match std::str::from_utf8(&b) {
            Ok(text) if !text.is_ascii() && upper => lua.create_string(text.to_uppercase()),
            Ok(text) if !text.is_ascii() => lua.create_string(text.to_lowercase()),
            _ if upper => lua.create_string(b.to_ascii_uppercase()),
            _ => lua.create_string(b.to_ascii_lowercase()),
        }
    })
}

pub(crate) fn install(lua: &Lua, ctx: &Rc<Ctx>, g: &Table) -> mlua::Result<()> {
    let c = ctx.clone();
    g.raw_set(
        "print",
        lua.create_function(move |lua, args: MultiValue| {
            if !c.services.log_enabled(Level::Info) {
                return Ok(());
            }
            let mut parts = Vec::with_capacity(args.len());
            for v in args.iter() {
                parts.push(tostring(lua, v)?);
            }
            emit(lua, &c, Level::Info, "", &parts.join(" "), &[], Vec::new())
        })?,
    )?;

    let c = ctx.clone();
    g.raw_set(
        "require",
        lua.create_function(move |lua, name: String| {
            let p = c.current()?;
            let env: Table = crate::ffi::get_ref(lua, p.env.get())?;
            match env.get::<Value>(name.as_str())? {
                Value::Nil => Err(misuse(format!("module '{name}' not found"))),
                v => Ok(v),
            }
        })?,
    )?;

    // os: only time, date, clock, difftime.
    let std_os: Table = g.get("os")?;
    let os = lua.create_table()?;
    for name in ["date", "clock", "difftime"] {
        os.raw_set(name, std_os.get::<Value>(name)?)?;
    }
    // `os.time()` reads the same clock as the `at` of EXIT events and `time.now()`: Luau's
    // calls C's `time`, which on Linux reads a clock that lags the precise one by up to a
    // timer tick, so near a second boundary an event's `at` could be after a later
    // `os.time()`. With a date table it is Luau's.
    let std_time: mlua::Function = std_os.get("time")?;
    os.raw_set(
        "time",
        lua.create_function(move |_, args: MultiValue| {
            if args.front().is_none_or(Value::is_nil) {
                return Ok(Value::Number(starling_core::message::unix_now() as f64));
            }
            std_time.call::<Value>(args)
        })?,
    )?;
    g.raw_set("os", os)?;

    // string.upper/lower: Unicode simple case mapping for valid UTF-8 (SPEC §11.11); an error
    // object stands for its message, as in `strings.lua`.
    let string: Table = g.get("string")?;
    // A string argument takes the raw path (`rt::hot`); these twins take the rest.
    string.raw_set(
        "upper",
        c_function::<hot::StringUpper>(lua, c"upper", Some(&case_twin(lua, "upper", true)?))?,
    )?;
    string.raw_set(
        "lower",
        c_function::<hot::StringLower>(lua, c"lower", Some(&case_twin(lua, "lower", false)?))?,
    )?;
    lua.load(STRINGS)
        .set_name("=starling.strings")
        .call::<()>(())?;
    let bit: Table = lua.load(BITOPS).set_name("=starling.bitops").call(())?;
    g.raw_set("__starling_bit", bit)?;

    // math shims for Lua 5.3 code on Luau's doubles (SPEC §4.1).
    let math: Table = g.get("math")?;
    math.raw_set(
        "type",
        lua.create_function(|_, v: Value| {
            Ok(match v {
                Value::Integer(_) => Some("integer"),
                Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
                    Some("integer")
                }
                Value::Number(_) => Some("float"),
                _ => None,
            })
        })?,
    )?;
    math.raw_set(
        "tointeger",
        lua.create_function(|_, v: Value| {
            Ok(match v {
                Value::Integer(i) => Some(i as f64),
                Value::Number(n) if n.fract() == 0.0 && n.is_finite() => Some(n),
                Value::String(s) => s
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|n| n.fract() == 0.0),
                _ => None,
            })
        })?,
    )?;
    math.raw_set(
        "ult",
        lua.create_function(|_, (a, b): (f64, f64)| Ok((a as i64 as u64) < (b as i64 as u64)))?,
    )?;
    math.raw_set(
        "pow",
        lua.create_function(|_, (a, b): (f64, f64)| Ok(a.powf(b)))?,
    )?;
    math.raw_set("log10", lua.create_function(|_, a: f64| Ok(a.log10()))?)?;
    // Random state per process (issue 11).
    crate::rt::random::install(lua, &math)?;
    math.raw_set("maxinteger", 9_007_199_254_740_991.0)?;
    math.raw_set("mininteger", -9_007_199_254_740_991.0)?;

    let package = lua.create_table()?;
    package.raw_set("path", "")?;
    package.raw_set("cpath", "")?;
    package.raw_set(
        "loadlib",
        lua.create_function(|_, _: MultiValue| Ok((Value::Nil, "loadlib is not supported")))?,
    )?;
    package.raw_set("loaded", seal(&lua.create_table()?))?;
    g.raw_set("package", package)?;

    for name in ["subscribe", "unsubscribe"] {
        let n = name.to_string();
        g.raw_set(
            name,
            lua.create_function(move |_, _: MultiValue| -> mlua::Result<()> {
                Err(misuse(format!("{n}: event bus not supported")))
            })?,
        )?;
    }
    Ok(())
}
