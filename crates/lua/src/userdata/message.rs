//! Message objects received from the inbox (SPEC §5.3).

use std::sync::Arc;

use mlua::{MetaMethod, UserData, UserDataMethods, Value};
use starling_core::{Message, Node, Payload};

use crate::userdata::payload::LuaPayload;

/// A received message: topic, sender and payload, converted to Lua lazily.
#[derive(Debug)]
pub struct LuaMessage {
    /// The message.
    pub msg: Message,
    /// The node, to print the sender's pid when asked (most receivers never ask).
    pub node: Arc<Node>,
}

impl UserData for LuaMessage {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("topic", |lua, this, ()| lua.create_string(&*this.msg.topic));
        m.add_method("from", |lua, this, ()| {
            let Some(pid) = this.msg.from else {
                return Ok(None);
            };
            let mut s = String::with_capacity(40);
            this.node.write_pid(&mut s, pid);
            lua.create_string(s).map(Some)
        });
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
