//! The `payload` global (SPEC §6.1): `payload.new` (raw, with an mlua twin for the values
//! the fast encoder hands back) and the format constants. Payload objects themselves are
//! tagged userdata with raw methods (see `modules::install_tags`).

use mlua::{Lua, Table, Value};

use crate::args::seal;
use crate::ffi::c_function;
use crate::rt::hot;
use crate::rt::values::PayloadData;
use crate::userdata::payload::FORMATS;

pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let slow = lua.create_function(|lua, v: Value| {
        let p = crate::convert::value_to_payload(&v)?;
        crate::ffi::new_udata(lua, PayloadData::of(p))
    })?;
    t.raw_set(
        "new",
        c_function::<hot::PayloadNew>(lua, c"new", Some(&slow))?,
    )?;
    let formats = lua.create_table()?;
    for (k, v) in FORMATS {
        formats.raw_set(k, v)?;
    }
    t.raw_set("format", seal(&formats))?;
    globals.raw_set("payload", seal(&t))
}
