//! Message objects received from the inbox (SPEC §5.3).

use mlua::{MetaMethod, UserData, UserDataMethods, Value};
use starling_core::{Message, Payload};

use crate::userdata::payload::LuaPayload;

/// A received message: topic, sender and payload, converted to Lua lazily.
#[derive(Debug)]
pub struct LuaMessage {
    /// The message.
    pub msg: Message,
    /// Printed sender pid, if any.
    pub from: Option<String>,
}

impl UserData for LuaMessage {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("topic", |_, this, ()| Ok(this.msg.topic.to_string()));
        m.add_method("from", |_, this, ()| Ok(this.from.clone()));
        m.add_method("payload", |lua, this, ()| {
            let p = &this.msg.payload;
            match p.values.len() {
                0 => Ok(Value::Nil),
                1 => Ok(Value::UserData(
                    lua.create_userdata(LuaPayload::new(p.clone()))?,
                )),
                n => {
                    let t = lua.create_table_with_capacity(n, 0)?;
                    for i in 0..n {
                        let one = Payload {
                            values: vec![p.values[i].clone()],
                            tables: p.tables.clone(),
                        };
                        t.raw_set(i + 1, lua.create_userdata(LuaPayload::new(one))?)?;
                    }
                    Ok(Value::Table(t))
                }
            }
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("process.Message{{topic={}}}", this.msg.topic))
        });
    }
}
