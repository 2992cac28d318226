//! Time zone locations (`time.load_location`, `time.fixed_zone`, `time.utc`, `time.localtz`):
//! a name as scripts see it and the zone rules.

use std::rc::Rc;

use jiff::tz::{Offset, TimeZone};

/// A location: a name as scripts see it (`UTC`, `Local`, `Europe/Paris`, a fixed zone's name)
/// and the zone rules.
#[derive(Debug, Clone)]
pub struct Loc {
    /// What `Location:string()` returns.
    pub name: Rc<str>,
    /// The rules.
    pub tz: TimeZone,
}

thread_local! {
    static UTC: Loc = Loc {
        name: "UTC".into(),
        tz: TimeZone::UTC,
    };
    static LOCAL: Loc = Loc {
        name: "Local".into(),
        tz: TimeZone::system(),
    };
}

impl Loc {
    /// Coordinated Universal Time.
    pub fn utc() -> Loc {
        UTC.with(Loc::clone)
    }

    /// The machine's zone (the `TZ` variable, else `/etc/localtime`), named `Local`: read once
    /// per worker thread, on first use, and kept (as Go reads `time.Local` once; `time.now()`
    /// makes one per call, and reading the zone each time cost an allocation and a lookup).
    pub fn local() -> Loc {
        LOCAL.with(Loc::clone)
    }

    /// An IANA zone by name; `UTC` and `Local` give those locations.
    pub fn named(name: &str) -> Result<Loc, jiff::Error> {
        match name {
            "UTC" => Ok(Loc::utc()),
            "Local" => Ok(Loc::local()),
            _ => Ok(Loc {
                name: name.into(),
                tz: TimeZone::get(name)?,
            }),
        }
    }

    /// A zone always `offset` seconds east of UTC.
    pub fn fixed(name: &str, offset: i64) -> Result<Loc, String> {
        let secs = i32::try_from(offset)
            .ok()
            .and_then(|s| Offset::from_seconds(s).ok())
            .ok_or_else(|| format!("offset {offset} out of range (at most ±25:59:59)"))?;
        Ok(Loc {
            name: name.into(),
            tz: TimeZone::fixed(secs),
        })
    }

    /// [`Loc::fixed`] for offsets known to be in range (at worst it falls back to UTC's).
    pub(crate) fn fixed_unchecked(name: &str, offset: i32) -> Loc {
        Loc {
            name: name.into(),
            tz: TimeZone::fixed(Offset::from_seconds(offset).unwrap_or(Offset::UTC)),
        }
    }

    /// The name to print for `MST`: a fixed zone's own name, else the rules' abbreviation.
    pub(crate) fn abbrev(&self) -> Option<&str> {
        (self.tz.iana_name().is_none() && &*self.name != "Local" && &*self.name != "UTC")
            .then_some(&*self.name)
    }
}
