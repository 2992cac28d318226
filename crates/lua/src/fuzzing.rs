//! Crate-private conversions and parsers, reachable from `fuzz/` (the cargo-fuzz targets and
//! their regression replay). Thin wrappers only: the behaviour under test stays where it is.
//!
//! Hidden from the docs and not a stable API; scripts never reach anything here.

use jiff::Timestamp;
use mlua::{Lua, Value as LuaValue};
use starling_core::Payload;

use crate::convert;
use crate::modules::time::layout;
use crate::userdata::time::Loc;

/// Copies Lua values into a payload, as a send does.
pub fn to_payload(values: &[LuaValue]) -> mlua::Result<Payload> {
    convert::to_payload(values)
}

/// Builds Lua values from a payload, as a receive does.
pub fn from_payload(lua: &Lua, payload: &Payload) -> mlua::Result<Vec<LuaValue>> {
    convert::from_payload(lua, payload)
}

/// The first value of a payload as a Lua value, as `payload:data()` returns it.
pub fn first_from_payload(lua: &Lua, payload: &Payload) -> mlua::Result<LuaValue> {
    convert::first_from_payload(lua, payload)
}

/// `time.parse(layout, value, loc)` without the Lua call: the instant and the location the
/// result is shown in, or the error message a script would get.
pub fn parse_time(layout: &str, value: &str, loc: &Loc) -> Result<(Timestamp, Loc), String> {
    layout::parse(layout, value)
        .and_then(|parsed| layout::resolve(&parsed, loc))
        .map_err(|e| e.to_string())
}

/// Wippy's dialect into Luau (`syntax.rs`): the Luau text, or `line: message`.
pub fn rewrite_syntax(src: &str) -> Result<String, String> {
    crate::syntax::rewrite(src).map_err(|e| format!("{}: {}", e.line, e.message))
}

/// The Lua 5.3 bitwise-operator helpers a lowered source calls (`__starling_bit`).
pub const BITOPS_LUA: &str = include_str!("modules/bitops.lua");
