//! `uuid` (SPEC §4.3): generating, checking and reformatting UUIDs, on the `uuid` crate.
//!
//! Generators never fail. Functions taking a UUID accept any form the crate parses (hyphenated,
//! 32 hex digits, braced, `urn:uuid:`), in either case; anything else is `nil, err` INVALID.
//! A value that is not a string is INVALID too (`validate` just answers `false`).

use std::sync::OnceLock;

use mlua::{Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;
use uuid::{Uuid, Variant};

use crate::args::{arg_type, seal};
use crate::userdata::error::fail;

/// Node id for version 1 UUIDs: random per OS process, with the multicast bit set as RFC 9562
/// asks for node ids that are not a MAC address.
fn node_id() -> [u8; 6] {
    static NODE: OnceLock<[u8; 6]> = OnceLock::new();
    *NODE.get_or_init(|| {
        let r = Uuid::new_v4();
        let b = r.as_bytes();
        [b[10] | 0x01, b[11], b[12], b[13], b[14], b[15]]
    })
}

/// Variant names as Wippy spells them.
fn variant_name(v: Variant) -> &'static str {
    match v {
        Variant::NCS => "NCS",
        Variant::RFC4122 => "RFC4122",
        Variant::Microsoft => "Microsoft",
        Variant::Future => "Future",
        _ => "Invalid",
    }
}

/// Parses argument `pos` of `func` as a UUID, or gives the message of the INVALID error.
fn uuid_arg(v: Option<&Value>, func: &str, pos: usize) -> Result<Uuid, String> {
    match v {
        Some(Value::String(s)) => {
            let text = s.to_string_lossy();
            Uuid::try_parse(text.trim())
                .map_err(|_| format!("{func}: invalid UUID {:?}", text.as_str()))
        }
        Some(other) => Err(format!(
            "{func}: argument #{pos} must be a UUID string, got {}",
            arg_type(other)
        )),
        None => Err(format!("{func}: argument #{pos} (UUID string) is missing")),
    }
}

fn ok(v: Value) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![v]))
}

fn string(lua: &Lua, s: &str) -> mlua::Result<MultiValue> {
    ok(Value::String(lua.create_string(s)?))
}

/// `v3`/`v5`: namespace UUID string plus a name string.
fn derived(lua: &Lua, args: &MultiValue, func: &str, sha1: bool) -> mlua::Result<MultiValue> {
    let ns = match uuid_arg(args.front(), func, 1) {
        Ok(u) => u,
        Err(e) => return fail(lua, ErrorKind::Invalid, e),
    };
    let name = match args.get(1) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Number(n)) => n.to_string().into_bytes(),
        Some(Value::Integer(n)) => n.to_string().into_bytes(),
        other => {
            let got = other.map_or("no value", arg_type);
            return fail(
                lua,
                ErrorKind::Invalid,
                format!("{func}: argument #2 must be a name string, got {got}"),
            );
        }
    };
    let id = if sha1 {
        Uuid::new_v5(&ns, &name)
    } else {
        Uuid::new_v3(&ns, &name)
    };
    string(lua, &id.hyphenated().to_string())
}

/// Unix time in seconds carried by a version 1, 6 or 7 UUID.
fn unix_seconds(id: &Uuid) -> Option<i64> {
    let ts = id.get_timestamp()?;
    let (secs, _) = ts.to_unix();
    i64::try_from(secs).ok()
}

/// Builds the `uuid` module table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "v1",
        lua.create_function(|lua, ()| {
            string(lua, &Uuid::now_v1(&node_id()).hyphenated().to_string())
        })?,
    )?;
    t.raw_set(
        "v4",
        lua.create_function(|lua, ()| string(lua, &Uuid::new_v4().hyphenated().to_string()))?,
    )?;
    t.raw_set(
        "v7",
        lua.create_function(|lua, ()| string(lua, &Uuid::now_v7().hyphenated().to_string()))?,
    )?;
    t.raw_set(
        "v3",
        lua.create_function(|lua, args: MultiValue| derived(lua, &args, "v3", false))?,
    )?;
    t.raw_set(
        "v5",
        lua.create_function(|lua, args: MultiValue| derived(lua, &args, "v5", true))?,
    )?;
    t.raw_set(
        "validate",
        lua.create_function(|_, v: Option<Value>| Ok(uuid_arg(v.as_ref(), "validate", 1).is_ok()))?,
    )?;
    t.raw_set(
        "version",
        lua.create_function(
            |lua, v: Option<Value>| match uuid_arg(v.as_ref(), "version", 1) {
                Ok(id) => ok(Value::Integer(id.get_version_num() as i64)),
                Err(e) => fail(lua, ErrorKind::Invalid, e),
            },
        )?,
    )?;
    t.raw_set(
        "variant",
        lua.create_function(
            |lua, v: Option<Value>| match uuid_arg(v.as_ref(), "variant", 1) {
                Ok(id) => string(lua, variant_name(id.get_variant())),
                Err(e) => fail(lua, ErrorKind::Invalid, e),
            },
        )?,
    )?;
    t.raw_set(
        "parse",
        lua.create_function(|lua, v: Option<Value>| {
            let id = match uuid_arg(v.as_ref(), "parse", 1) {
                Ok(id) => id,
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let info = lua.create_table()?;
            info.raw_set("uuid", id.hyphenated().to_string())?;
            info.raw_set("version", id.get_version_num() as i64)?;
            info.raw_set("variant", variant_name(id.get_variant()))?;
            if let Some(secs) = unix_seconds(&id) {
                info.raw_set("timestamp", secs)?;
            }
            if let Some(node) = id.get_node_id() {
                let hex: Vec<String> = node.iter().map(|b| format!("{b:02x}")).collect();
                info.raw_set("node", hex.join(":"))?;
            }
            ok(Value::Table(info))
        })?,
    )?;
    t.raw_set(
        "format",
        lua.create_function(|lua, (v, style): (Option<Value>, Option<Value>)| {
            let id = match uuid_arg(v.as_ref(), "format", 1) {
                Ok(id) => id,
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let style = match &style {
                None | Some(Value::Nil) => "standard".to_string(),
                Some(Value::String(s)) => s.to_string_lossy(),
                Some(other) => {
                    return fail(
                        lua,
                        ErrorKind::Invalid,
                        format!(
                            "format: argument #2 must be a style string, got {}",
                            arg_type(other)
                        ),
                    );
                }
            };
            let text = match style.as_str() {
                "standard" => id.hyphenated().to_string(),
                "simple" => id.simple().to_string(),
                "urn" => id.urn().to_string(),
                other => {
                    return fail(
                        lua,
                        ErrorKind::Invalid,
                        format!("format: unknown style {other:?} (standard, simple or urn)"),
                    );
                }
            };
            string(lua, &text)
        })?,
    )?;
    Ok(seal(&t))
}
