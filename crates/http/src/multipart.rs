//! `req:parse_multipart()`: a `multipart/form-data` body into values and files.
//!
//! The body is read whole first (bounded by the server's `limits.max_body`), then parsed by
//! `multer`. Files are kept in memory, so `max_memory` (Wippy's spill-to-disk threshold) is a
//! cap on the whole form here; a larger form is an INVALID error.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use starling_core::{ErrorKind, ErrorValue, Payload, ReplyTo, Table, Value};

use crate::exchange::ExchangeImpl;

/// The most a form's body may take to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

fn invalid(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Invalid, message)
}

fn s(text: impl AsRef<[u8]>) -> Value {
    Value::Str(text.as_ref().into())
}

struct File {
    field: String,
    filename: String,
    content_type: String,
    headers: Vec<(String, Vec<u8>)>,
    data: Bytes,
}

async fn parse_form(ex: &ExchangeImpl, max: u64) -> Result<Payload, ErrorValue> {
    let ct = ex.header_text("content-type").unwrap_or("");
    let boundary = multer::parse_boundary(ct)
        .map_err(|e| invalid(format!("request is not a multipart form: {e}")))?;
    let body = ex.whole_body(READ_TIMEOUT).await?;
    if body.len() as u64 > max {
        return Err(invalid(format!("multipart form larger than {max} bytes")));
    }
    let stream = futures_util::stream::once(async move {
        Ok::<Bytes, Infallible>(Bytes::copy_from_slice(&body))
    });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut values: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files: Vec<File> = Vec::new();
    let bad = |e: multer::Error| invalid(format!("malformed multipart form: {e}"));
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let headers = field
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let data = field.bytes().await.map_err(bad)?;
        match filename {
            Some(filename) => files.push(File {
                field: name,
                filename,
                content_type,
                headers,
                data,
            }),
            None => values.push((name, data.to_vec())),
        }
    }
    // {values = {name = value}, files = {name = {{filename, size, content_type, headers, data}}}}
    let mut tables: Vec<Table> = Vec::new();
    let mut add = |t: Table| {
        tables.push(t);
        Value::Table(tables.len() as u32 - 1)
    };
    let values_t = add(Table {
        array: Vec::new(),
        hash: values.into_iter().map(|(k, v)| (s(k), s(v))).collect(),
    });
    let mut by_field: Vec<(String, Vec<Value>)> = Vec::new();
    for f in files {
        let headers = add(Table {
            array: Vec::new(),
            hash: f.headers.into_iter().map(|(k, v)| (s(k), s(v))).collect(),
        });
        let entry = add(Table {
            array: Vec::new(),
            hash: vec![
                (s("filename"), s(&f.filename)),
                (s("size"), Value::Int(f.data.len() as i64)),
                (s("content_type"), s(&f.content_type)),
                (s("headers"), headers),
                (s("data"), s(&f.data)),
            ],
        });
        match by_field.iter_mut().find(|(k, _)| *k == f.field) {
            Some((_, list)) => list.push(entry),
            None => by_field.push((f.field, vec![entry])),
        }
    }
    let mut file_fields = Vec::new();
    for (k, list) in by_field {
        let l = add(Table {
            array: list,
            hash: Vec::new(),
        });
        file_fields.push((s(k), l));
    }
    let files_t = add(Table {
        array: Vec::new(),
        hash: file_fields,
    });
    let top = add(Table {
        array: Vec::new(),
        hash: vec![(s("values"), values_t), (s("files"), files_t)],
    });
    Ok(Payload {
        values: vec![top],
        tables,
    })
}

/// Parses the form of the exchange; `reply` gets the table or an error.
pub(crate) fn parse(ex: &ExchangeImpl, max_memory: u64, reply: ReplyTo) {
    let shared = ex.shared().clone();
    let Some(ex) = shared.exchanges.get(ex.pid().num) else {
        return shared.wake(
            reply,
            Err(ErrorValue::new(ErrorKind::Internal, "no HTTP context")),
        );
    };
    let handle = match shared.handle() {
        Ok(h) => h,
        Err(e) => {
            return shared.wake(
                reply,
                Err(ErrorValue::new(ErrorKind::Internal, e.to_string())),
            );
        }
    };
    handle.spawn(async move {
        let result = parse_form(&ex, max_memory).await;
        ex.shared().wake(reply, result);
    });
}
