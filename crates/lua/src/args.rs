//! Argument helpers every module uses: reading strings, naming types in messages, sealing
//! tables, `tostring` as Lua prints values. A leaf: it depends on nothing of the crate.

use mlua::{Lua, Table, Value};

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

/// `tostring(v)` as Lua would print it (error objects and other userdata use `__tostring`).
pub(crate) fn tostring(lua: &Lua, v: &Value) -> mlua::Result<String> {
    match v {
        Value::String(s) => Ok(s.to_string_lossy()),
        Value::Nil => Ok("nil".into()),
        Value::Boolean(b) => Ok(b.to_string()),
        _ => {
            let f: mlua::Function = lua.globals().get("tostring")?;
            Ok(f.call::<mlua::LuaString>(v.clone())?.to_string_lossy())
        }
    }
}
