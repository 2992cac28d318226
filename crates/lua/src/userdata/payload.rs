//! Payload formats (SPEC §6.1). Payload objects are tagged userdata (`rt::values`).

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
