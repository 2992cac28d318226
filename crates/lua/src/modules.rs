//! Every global and module a script sees (SPEC §4.2, §4.3), composed in one place.
//!
//! Each Lua module lives in its own file under `modules/` with one `install` function. Globals
//! are installed on the VM's global table, which is then sealed read-only; gated modules are
//! kept in [`Ctx::modules`] and copied into the template of each entry that lists them.

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::args::seal;
use crate::engine::{Ctx, Refs};
use crate::ffi::c_function;
use crate::rt::hot;
use crate::rt::values::{MsgData, PayloadData};

pub(crate) mod base;
pub(crate) mod channel;
pub(crate) mod env;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod funcs;
pub(crate) mod http;
pub(crate) mod http_client;
pub(crate) mod io;
pub(crate) mod json;
pub(crate) mod logger;
pub(crate) mod payload;
pub(crate) mod process;
pub(crate) mod registry;
pub(crate) mod system;
pub(crate) mod time;
pub(crate) mod uuid;
pub(crate) mod websocket;

/// The Lua half of the engine, see `prelude.lua`.
const PRELUDE: &str = include_str!("prelude.lua");

/// Installs everything on a fresh VM and seals it.
pub(crate) fn install(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<()> {
    ctx.set_lua(lua);
    let globals = lua.globals();
    install_tags(lua)?;
    // Raw code makes error objects through this (see `ffi::set_error_maker`).
    let maker = lua.create_function(|_, ()| {
        Ok(crate::ffi::take_error_handoff().map(crate::userdata::error::LuaErrorObject))
    })?;
    crate::ffi::set_error_maker(lua, &maker)?;
    // And payloads the fast encoder does not take (error objects, very deep tables).
    let payloads = lua.create_function(|_, args: MultiValue| {
        crate::ffi::hand_payload(crate::convert::to_payload(args.iter())?);
        Ok(())
    })?;
    crate::ffi::set_payload_maker(lua, &payloads)?;

    let raw = lua.create_table()?;
    raw.raw_set("PENDING", PENDING_MARK)?;
    raw.raw_set("RAISE", RAISE_MARK)?;
    raw.raw_set(
        "take_answer",
        c_function::<hot::Answer>(lua, c"take_answer", None)?,
    )?;
    let c = ctx.clone();
    let finish_slow =
        lua.create_function(move |lua, args: MultiValue| finish_slow(lua, &c, args))?;
    raw.raw_set(
        "finish",
        c_function::<hot::Finish>(lua, c"finish", Some(&finish_slow))?,
    )?;
    channel::install_raw(lua, ctx, &raw)?;
    time::install_raw(lua, ctx, &raw)?;
    errors::install_raw(lua, ctx, &raw)?;
    let c = ctx.clone();
    raw.raw_set(
        "out_of_memory",
        lua.create_function(move |lua, e: Value| {
            Ok(crate::rt::memory::out_of_memory(lua, &c, &e))
        })?,
    )?;
    let out: Table = lua.load(PRELUDE).set_name("=starling.prelude").call(raw)?;

    let blocking: Function = out.get("blocking")?;
    let specials = channel::make_specials(lua)?;
    let task_body: Function = out.get("task_body")?;
    let refs = Refs {
        task_body_ref: crate::ffi::make_ref(lua, &task_body)?,
        task_body,
        globals: globals.clone(),
        inbox: specials.inbox,
        events: specials.events,
        inbox_case: specials.inbox_case,
        events_case: specials.events_case,
        inbox_case_id: specials.inbox_case_id,
        events_case_id: specials.events_case_id,
        inbox_st: specials.inbox_st,
        events_st: specials.events_st,
        case_meta: specials.case_meta,
        case_meta_id: specials.case_meta_id,
        default_key: crate::ffi::make_ref(lua, "default")?,
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
    modules.insert("json", Value::Table(json::module(lua)?));
    modules.insert("env", env::module(lua, ctx)?);
    modules.insert("registry", registry::module(lua, ctx)?);
    modules.insert("events", events::module(lua, ctx)?);
    modules.insert("system", system::module(lua, ctx)?);
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

/// The metatables of Starling's tagged userdata: messages, payloads, times and durations
/// (channels are set up by the channel module).
fn install_tags(lua: &Lua) -> mlua::Result<()> {
    crate::userdata::time::install(lua)?;
    let msg = lua.create_table()?;
    let methods = lua.create_table()?;
    methods.raw_set("topic", c_function::<hot::MsgTopic>(lua, c"topic", None)?)?;
    methods.raw_set("from", c_function::<hot::MsgFrom>(lua, c"from", None)?)?;
    methods.raw_set(
        "payload",
        c_function::<hot::MsgPayload>(lua, c"payload", None)?,
    )?;
    msg.raw_set("__index", seal(&methods))?;
    msg.raw_set(
        "__tostring",
        c_function::<hot::MsgToString>(lua, c"tostring", None)?,
    )?;
    msg.raw_set("__metatable", false)?;
    crate::ffi::register_tag::<MsgData>(lua, &seal(&msg))?;

    let pl = lua.create_table()?;
    let methods = lua.create_table()?;
    let data = c_function::<hot::PayloadDataOf>(lua, c"data", None)?;
    methods.raw_set("data", data.clone())?;
    methods.raw_set("unmarshal", data)?;
    methods.raw_set(
        "get_format",
        c_function::<hot::PayloadFormat>(lua, c"get_format", None)?,
    )?;
    methods.raw_set(
        "transcode",
        c_function::<hot::PayloadTranscode>(lua, c"transcode", None)?,
    )?;
    pl.raw_set("__index", seal(&methods))?;
    pl.raw_set(
        "__tostring",
        c_function::<hot::PayloadToString>(lua, c"tostring", None)?,
    )?;
    pl.raw_set("__metatable", false)?;
    crate::ffi::register_tag::<PayloadData>(lua, &seal(&pl))
}

/// The slow half of the task body's `finish`: a main function's return values whose second
/// value (a string or an error object) makes the run a failure (SPEC §4.4), or a value the
/// fast encoder did not take.
fn finish_slow(lua: &Lua, ctx: &Ctx, args: MultiValue) -> mlua::Result<()> {
    let Some(p) = ctx.try_current() else {
        return Ok(());
    };
    let rest: Vec<Value> = args.into_iter().skip(1).collect();
    let reason = main_result(&rest)?;
    let _ = lua;
    p.exit.set(Some(reason));
    Ok(())
}

/// A main function's return values as an exit reason (SPEC §4.4).
fn main_result(rest: &[Value]) -> mlua::Result<starling_core::ExitReason> {
    use crate::userdata::error::{LuaErrorObject, from_lua_value};
    if let Some(second) = rest.get(1) {
        let failed = match second {
            Value::String(_) => true,
            Value::UserData(ud) => ud.borrow::<LuaErrorObject>().is_ok(),
            _ => false,
        };
        if failed {
            return Ok(starling_core::ExitReason::error(from_lua_value(second)));
        }
    }
    let first = rest.first().cloned().unwrap_or(Value::Nil);
    Ok(starling_core::ExitReason::normal(
        crate::convert::value_to_payload(&first)?,
    ))
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
                Value::UserData(ud) => match ud.metatable() {
                    Ok(mt) => names_of(mt.get::<Value>("__index")?, &mut out)?,
                    // Starling's own userdata (channels, messages, payloads).
                    Err(_) => {
                        if let Some(mt) = crate::ffi::raw_metatable(lua, v.clone())? {
                            names_of(mt.raw_get::<Value>("__index")?, &mut out)?;
                        }
                    }
                },
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
