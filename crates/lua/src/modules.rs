//! Every global and module a script sees (SPEC §4.2, §4.3), composed in one place.
//!
//! Each Lua module lives in its own file under `modules/` with one `install` function. Globals
//! are installed on the VM's global table, which is then sealed read-only; gated modules are
//! kept in [`Ctx::modules`] and copied into the template of each entry that lists them.

use std::rc::Rc;

use mlua::{Function, Lua, Table, Value};

use crate::engine::{Ctx, Refs};

pub(crate) mod base;
pub(crate) mod channel;
pub(crate) mod errors;
pub(crate) mod funcs;
pub(crate) mod http;
pub(crate) mod http_client;
pub(crate) mod io;
pub(crate) mod logger;
pub(crate) mod payload;
pub(crate) mod process;
pub(crate) mod time;
pub(crate) mod uuid;
pub(crate) mod websocket;

/// The Lua half of the engine, see `prelude.lua`.
const PRELUDE: &str = include_str!("prelude.lua");

/// Installs everything on a fresh VM and seals it.
pub(crate) fn install(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    let globals = lua.globals();
    let raw = lua.create_table()?;
    raw.raw_set("PENDING", PENDING_MARK)?;
    raw.raw_set("RAISE", RAISE_MARK)?;
    channel::install_raw(lua, ctx, &raw)?;
    time::install_raw(lua, ctx, &raw)?;
    errors::install_raw(lua, &raw)?;
    let c = ctx.clone();
    raw.raw_set(
        "out_of_memory",
        lua.create_function(move |lua, e: Value| Ok(crate::vm::out_of_memory(lua, &c, &e)))?,
    )?;
    let out: Table = lua.load(PRELUDE).set_name("=starling.prelude").call(raw)?;

    lua.set_named_registry_value("starling.chan", out.get::<Table>("chan_methods")?)?;
    let blocking: Function = out.get("blocking")?;
    let refs = Refs {
        pending: PENDING_MARK,
        raise: RAISE_MARK,
        task_body: out.get("task_body")?,
        globals: globals.clone(),
    };
    if ctx.refs.set(refs).is_err() {
        return Err(mlua::Error::runtime("engine installed twice"));
    }

    globals.raw_set("coroutine", out.get::<Table>("coroutine")?)?;
    globals.raw_set("pcall", out.get::<Function>("pcall")?)?;
    for pair in out.get::<Table>("casts")?.pairs::<String, Value>() {
        let (k, v) = pair?;
        globals.raw_set(k, v)?;
    }
    globals.raw_set("xpcall", out.get::<Function>("xpcall")?)?;
    globals.raw_set("channel", out.get::<Table>("channel")?)?;
    base::install(lua, ctx, &globals)?;
    errors::install(lua, &globals)?;
    payload::install(lua, &globals)?;
    process::install(lua, ctx, &globals, &blocking)?;

    let mut modules = ctx.modules.borrow_mut();
    modules.insert("time", Value::Table(time::module(lua, ctx, &out)?));
    modules.insert("io", Value::Table(io::module(lua, ctx, &blocking)?));
    modules.insert("logger", logger::module(lua, ctx)?);
    modules.insert("funcs", funcs::module(lua, ctx)?);
    modules.insert("uuid", Value::Table(uuid::module(lua)?));
    modules.insert("http", http::module(lua, ctx, &blocking)?);
    modules.insert("http_client", http_client::module(lua, ctx, &blocking)?);
    modules.insert("websocket", websocket::module(lua, ctx, &blocking)?);
    drop(modules);

    for name in [
        "load",
        "loadstring",
        "loadfile",
        "dofile",
        "collectgarbage",
        "rawlen",
        "debug",
        "utf8",
        "getfenv",
        "setfenv",
        "gcinfo",
        "newproxy",
    ] {
        globals.raw_set(name, Value::Nil)?;
    }
    if std::env::var_os("STARLING_API_SURFACE").is_some_and(|v| v == "1") {
        install_api_probe(lua, &globals)?;
    }
    lua.sandbox(true)?;
    Ok(())
}

/// Test support for the checked-in API listing (`tests/api_surface.txt`): with
/// `STARLING_API_SURFACE=1`, the global `__api_methods(v)` returns the sorted method names of a
/// userdata value (read from its protected metatable), or of a value whose metatable is
/// protected. Never installed otherwise.
fn install_api_probe(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    fn names_of(index: Value, out: &mut Vec<String>) -> mlua::Result<()> {
        if let Value::Table(t) = index {
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                if let (Value::String(k), Value::Function(_)) = (k, v) {
                    out.push(k.to_str()?.to_string());
                }
            }
        }
        Ok(())
    }
    globals.raw_set(
        "__api_http_methods",
        lua.create_function(|lua, name: String| {
            let mut out = Vec::new();
            let key = match name.as_str() {
                "Request" => "starling.http.request",
                "Response" => "starling.http.response",
                _ => "starling.http.stream",
            };
            names_of(Value::Table(lua.named_registry_value(key)?), &mut out)?;
            out.sort();
            lua.create_sequence_from(out)
        })?,
    )?;
    let g = globals.clone();
    globals.raw_set(
        "__api_globals",
        lua.create_function(move |lua, ()| {
            let mut out = Vec::new();
            for pair in g.pairs::<Value, Value>() {
                if let (Value::String(k), _) = pair? {
                    let k = k.to_str()?.to_string();
                    if !k.starts_with("__api_") {
                        out.push(k);
                    }
                }
            }
            out.sort();
            lua.create_sequence_from(out)
        })?,
    )?;
    globals.raw_set(
        "__api_methods",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            match &v {
                Value::UserData(ud) => {
                    names_of(ud.metatable()?.get::<Value>("__index")?, &mut out)?
                }
                Value::Table(t) => {
                    if let Some(mt) = t.metatable() {
                        names_of(mt.raw_get::<Value>("__index")?, &mut out)?;
                    }
                }
                _ => {}
            }
            out.sort();
            lua.create_sequence_from(out)
        })?,
    )
}

/// The marker a blocking primitive returns to ask the prelude to yield.
pub(crate) const PENDING_MARK: mlua::LightUserData =
    mlua::LightUserData(std::ptr::without_provenance_mut(1));
/// The marker that makes the prelude raise the value that follows it.
pub(crate) const RAISE_MARK: mlua::LightUserData =
    mlua::LightUserData(std::ptr::without_provenance_mut(2));

/// Reads a required string argument or raises naming the function and position.
pub(crate) fn str_arg(v: Option<&Value>, func: &str, pos: usize) -> mlua::Result<String> {
    Ok(String::from(&*str_ref(v, func, pos)?.to_str()?))
}

/// Like [`str_arg`], without copying the string out of Lua.
pub(crate) fn str_ref<'a>(
    v: Option<&'a Value>,
    func: &str,
    pos: usize,
) -> mlua::Result<&'a mlua::LuaString> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(mlua::Error::runtime(format!(
            "bad argument #{pos} to '{func}' (string expected, got {})",
            arg_type(other)
        ))),
        None => Err(mlua::Error::runtime(format!(
            "bad argument #{pos} to '{func}' (string expected, got no value)"
        ))),
    }
}

/// Seals a table installed below the globals (the sandbox only seals the first level).
pub(crate) fn seal(t: &Table) -> Table {
    t.set_readonly(true);
    t.clone()
}

/// The type name Lua's `type()` gives (`number` for integers too), or `no value` for nil, for
/// argument error messages.
pub(crate) fn arg_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "no value",
        Value::Integer(_) | Value::Number(_) => "number",
        other => other.type_name(),
    }
}
