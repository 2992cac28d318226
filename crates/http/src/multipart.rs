//! `req:parse_multipart()`.

use starling_core::{ErrorKind, ErrorValue, ReplyTo};

use crate::exchange::ExchangeImpl;

pub(crate) fn parse(ex: &ExchangeImpl, _max_memory: u64, reply: ReplyTo) {
    ex.shared().wake(reply, Err(ErrorValue::new(ErrorKind::Internal, "not yet")));
}
