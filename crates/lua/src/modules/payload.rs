//! The `payload` global (SPEC §6.1).

use mlua::{Lua, Table, Value};

use crate::convert;
use crate::modules::seal;
use crate::userdata::payload::{FORMATS, LuaPayload};

pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "new",
        lua.create_function(|_, v: Value| Ok(LuaPayload::new(convert::value_to_payload(&v)?)))?,
    )?;
    let formats = lua.create_table()?;
    for (k, v) in FORMATS {
        formats.raw_set(k, v)?;
    }
    t.raw_set("format", seal(&formats))?;
    globals.raw_set("payload", seal(&t))
}
