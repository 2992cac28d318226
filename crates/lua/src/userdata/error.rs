//! Error objects (SPEC §9.3): userdata around [`ErrorValue`].

use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};
use starling_core::{ErrorKind, ErrorValue};

use crate::convert;

pub use crate::userdata::error_object::LuaErrorObject;

impl UserData for LuaErrorObject {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("kind", |_, e, ()| Ok(e.0.kind.as_str()));
        m.add_method("message", |_, e, ()| Ok(e.0.full_message()));
        m.add_method("retryable", |_, e, ()| Ok(e.0.retryable));
        m.add_method("details", |lua, e, ()| match &e.0.details {
            Some(d) => convert::first_from_payload(lua, d),
            None => Ok(Value::Nil),
        });
        m.add_method("stack", |_, e, ()| Ok(e.0.stack.clone()));
        m.add_meta_method(MetaMethod::ToString, |_, e, ()| Ok(e.0.full_message()));
        m.add_meta_function(MetaMethod::Concat, |lua, (a, b): (Value, Value)| {
            let s = |v: &Value| -> mlua::Result<String> {
                match v {
                    Value::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
                        Ok(e) => Ok(e.0.full_message()),
                        Err(_) => Ok(v.to_string()?),
                    },
                    other => Ok(other.to_string()?),
                }
            };
            let joined = format!("{}{}", s(&a)?, s(&b)?);
            lua.create_string(joined)
        });
        m.add_meta_method(MetaMethod::Eq, |_, a, b: mlua::AnyUserData| {
            Ok(b.borrow::<LuaErrorObject>().is_ok_and(|b| b.0 == a.0))
        });
    }
}

/// `nil, err` for an expected failure.
pub fn fail(lua: &Lua, kind: ErrorKind, msg: impl Into<String>) -> mlua::Result<mlua::MultiValue> {
    fail_with(lua, ErrorValue::new(kind, msg))
}

/// `nil, err` from an error value.
pub fn fail_with(lua: &Lua, e: ErrorValue) -> mlua::Result<mlua::MultiValue> {
    let ud = lua.create_userdata(LuaErrorObject(e))?;
    Ok(mlua::MultiValue::from_vec(vec![
        Value::Nil,
        Value::UserData(ud),
    ]))
}

/// Turns any raised Lua error value into an [`ErrorValue`], keeping error objects intact.
pub fn from_lua_value(v: &Value) -> ErrorValue {
    match v {
        Value::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
            Ok(e) => e.0.clone(),
            Err(_) => ErrorValue::new(ErrorKind::Unknown, v.to_string().unwrap_or_default())
                .retryable(None),
        },
        Value::String(s) => {
            ErrorValue::new(ErrorKind::Unknown, s.to_string_lossy()).retryable(None)
        }
        Value::Nil => ErrorValue::new(ErrorKind::Unknown, "nil").retryable(None),
        Value::Error(e) => from_mlua(e),
        other => ErrorValue::new(
            ErrorKind::Unknown,
            other
                .to_string()
                .unwrap_or_else(|_| other.type_name().to_string()),
        )
        .retryable(None),
    }
}

/// Turns an mlua error (from a failed chunk or callback) into an [`ErrorValue`].
pub fn from_mlua(e: &mlua::Error) -> ErrorValue {
    match e {
        mlua::Error::RuntimeError(m) => {
            ErrorValue::new(ErrorKind::Unknown, m.clone()).retryable(None)
        }
        mlua::Error::MemoryError(m) => {
            ErrorValue::new(ErrorKind::Internal, format!("out of memory: {m}"))
        }
        mlua::Error::CallbackError { cause, traceback } => {
            let mut v = from_mlua(cause);
            if v.stack.is_none() {
                v.stack = Some(traceback.clone());
            }
            v
        }
        mlua::Error::WithContext { context, cause } => {
            let mut v = from_mlua(cause);
            v.message = format!("{context}: {}", v.message);
            v
        }
        other => ErrorValue::new(ErrorKind::Unknown, other.to_string()).retryable(None),
    }
}
