//! Starling layer 1 of 5: project files into checked entry specs.
//!
//! Reads `wippy.lock` ([`read_lock`], [`write_lock`]), the runtime configuration
//! ([`Config`]: `.wippy.yaml`, `--config`, `--set`, `${env:NAME}`) and every YAML/JSON
//! definition file of the source tree ([`load_project`]), resolves `file://` references and
//! entry overrides, and checks each entry of the kinds Starling runs into an [`EntrySpec`].
//! It also owns Go duration strings ([`parse_go_duration`], [`format_go_duration`]), shared
//! by YAML lifecycle fields and the Lua `time` module.
//!
//! This crate is plain data (serde and YAML): it must not import `starling-core`,
//! `starling-lua` or `starling-host`, nor tokio or mlua, and knows nothing about Lua beyond
//! carrying source text.
//!
//! Every error is a [`LoadError`] whose message names the file, the YAML line where known,
//! and the entry id or index.

pub mod cluster;
pub mod coerce;
pub mod config;
mod definition;
pub mod duration;
pub mod entry;
pub mod error;
mod http;
pub mod id;
pub mod interpolate;
pub mod kind;
pub mod lifecycle;
pub mod lock;
pub mod origin;
mod overrides;
pub mod project;
pub mod read;
pub mod scan;
mod services;
pub mod suggest;
mod yaml;

pub use config::Config;
pub use duration::{format_go_duration, parse_go_duration};
pub use entry::Entry;
pub use error::{DurationError, EntryRef, LoadError, Site};
pub use id::{EntryId, IdError};
pub use kind::{
    EntrySpec, FsDirectorySpec, HttpEndpointSpec, HttpRouterSpec, HttpServiceSpec, HttpStaticSpec,
    LuaSpec, ProcessHostSpec, RoutePath, RouteSegment, ServiceSpec, SourceOrigin, TerminalHostSpec,
};
pub use lifecycle::{Lifecycle, RestartPolicy, Startup};
pub use lock::{LockFile, read_lock, write_lock};
pub use origin::Origin;
pub use project::{LoadOptions, NATIVE_KIND, Project, load_definitions, load_project};
