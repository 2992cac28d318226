//! Payload objects (SPEC §6.1).

use mlua::{MetaMethod, UserData, UserDataMethods, Value};
use starling_core::{Payload, Value as PValue};

use crate::convert;

/// Format names (`payload.format`).
pub const FORMATS: [(&str, &str); 8] = [
    ("JSON", "json/plain"),
    ("YAML", "yaml/plain"),
    ("STRING", "text/plain"),
    ("BYTES", "application/octet-stream"),
    ("MSGPACK", "application/msgpack"),
    ("LUA", "lua/any"),
    ("GOLANG", "golang/any"),
    ("ERROR", "golang/error"),
];

/// A payload holding one value.
#[derive(Debug, Clone)]
pub struct LuaPayload {
    /// The value (exactly one).
    pub payload: Payload,
    /// Format string.
    pub format: &'static str,
}

impl LuaPayload {
    /// Wraps a one-value payload; errors get the `golang/error` format.
    pub fn new(payload: Payload) -> LuaPayload {
        let format = if matches!(payload.values.first(), Some(PValue::Error(_))) {
            "golang/error"
        } else {
            "lua/any"
        };
        LuaPayload { payload, format }
    }
}

impl UserData for LuaPayload {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("data", |lua, this, ()| {
            convert::first_from_payload(lua, &this.payload)
        });
        m.add_method("unmarshal", |lua, this, ()| {
            convert::first_from_payload(lua, &this.payload)
        });
        m.add_method("get_format", |_, this, ()| Ok(this.format));
        m.add_method("transcode", |lua, this, fmt: String| {
            if fmt == "lua/any" || fmt == this.format {
                return Ok(mlua::MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(this.clone())?,
                )]));
            }
            crate::userdata::error::fail(
                lua,
                starling_core::ErrorKind::Internal,
                format!("transcoding to {fmt} is not supported"),
            )
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("payload{{format={}}}", this.format))
        });
    }
}
