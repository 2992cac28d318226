//! Go reference-time layouts (SPEC §8.4): a tokenizer, a formatter and a parser.
//!
//! A layout is example text for the reference time `Mon Jan 2 15:04:05 MST 2006` (UTC−7): each
//! recognised piece (`2006`, `Jan`, `15`, `-07:00`, `.000`, …) stands for a field, everything
//! else is literal. The tokenizer scans left to right and takes the first token that starts at
//! each position, so `1` alone is the month and `15` the hour, `Jan` followed by a lowercase
//! letter is literal text, and a run of `0`/`9` after `.` or `,` is a fraction only when no
//! digit follows it.
//!
//! Parsing fills a [`Parsed`] record; [`resolve`] then places it in time, using the zone found
//! in the value or else the default location.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};

use crate::userdata::loc::Loc;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Shape of a numeric zone offset token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetStyle {
    /// `Z07…`: prints `Z` for UTC.
    pub(crate) z: bool,
    /// `:` between the parts.
    pub(crate) colon: bool,
    /// Minutes are part of it (everything but `-07`).
    pub(crate) minutes: bool,
    /// Seconds are part of it (`-070000`, `-07:00:00`).
    pub(crate) seconds: bool,
}

/// One piece of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    Lit(&'a str),
    /// `2006`
    Year,
    /// `06`
    Year2,
    /// `Jan`
    MonthAbbr,
    /// `January`
    MonthName,
    /// `01`
    Month2,
    /// `1`
    Month,
    /// `Mon`
    WeekdayAbbr,
    /// `Monday`
    WeekdayName,
    /// `02`
    Day2,
    /// `2`
    Day,
    /// `_2`
    DaySpace,
    /// `002`
    YearDay3,
    /// `__2`
    YearDaySpace,
    /// `15`
    Hour,
    /// `03`
    Hour12Pad,
    /// `3`
    Hour12,
    /// `04`
    Minute2,
    /// `4`
    Minute,
    /// `05`
    Second2,
    /// `5`
    Second,
    /// `PM`
    PmUpper,
    /// `pm`
    PmLower,
    /// `MST`
    ZoneName,
    Offset(OffsetStyle),
    /// `.000` (`trim = false`) or `.999` (`trim = true`); `sep` is `.` or `,`.
    Frac {
        sep: char,
        digits: u8,
        trim: bool,
    },
}

impl Tok<'_> {
    /// The layout text of a field token (for error messages).
    fn text(&self) -> String {
        match self {
            Tok::Lit(s) => (*s).to_string(),
            Tok::Year => "2006".into(),
            Tok::Year2 => "06".into(),
            Tok::MonthAbbr => "Jan".into(),
            Tok::MonthName => "January".into(),
            Tok::Month2 => "01".into(),
            Tok::Month => "1".into(),
            Tok::WeekdayAbbr => "Mon".into(),
            Tok::WeekdayName => "Monday".into(),
            Tok::Day2 => "02".into(),
            Tok::Day => "2".into(),
            Tok::DaySpace => "_2".into(),
            Tok::YearDay3 => "002".into(),
            Tok::YearDaySpace => "__2".into(),
            Tok::Hour => "15".into(),
            Tok::Hour12Pad => "03".into(),
            Tok::Hour12 => "3".into(),
            Tok::Minute2 => "04".into(),
            Tok::Minute => "4".into(),
            Tok::Second2 => "05".into(),
            Tok::Second => "5".into(),
            Tok::PmUpper => "PM".into(),
            Tok::PmLower => "pm".into(),
            Tok::ZoneName => "MST".into(),
            Tok::Offset(o) => {
                let mut s = String::from(if o.z { "Z07" } else { "-07" });
                if o.minutes {
                    s.push_str(if o.colon { ":00" } else { "00" });
                }
                if o.seconds {
                    s.push_str(if o.colon { ":00" } else { "00" });
                }
                s
            }
            Tok::Frac { sep, digits, trim } => {
                let d = if *trim { '9' } else { '0' };
                std::iter::once(*sep)
                    .chain(std::iter::repeat_n(d, *digits as usize))
                    .collect()
            }
        }
    }
}

fn starts_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// The field token at the start of `s`, with its length in bytes.
fn field_at(s: &str) -> Option<(Tok<'static>, usize)> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let offsets = |z: bool| -> Option<(Tok<'static>, usize)> {
        let rest = &s[1..];
        let style = |colon, minutes, seconds| OffsetStyle {
            z,
            colon,
            minutes,
            seconds,
        };
        // Longest first: `-07:00:00` before `-07:00` before `-07`.
        for (pat, st) in [
            ("070000", style(false, true, true)),
            ("07:00:00", style(true, true, true)),
            ("0700", style(false, true, false)),
            ("07:00", style(true, true, false)),
            ("07", style(false, false, false)),
        ] {
            if rest.starts_with(pat) {
                return Some((Tok::Offset(st), 1 + pat.len()));
            }
        }
        None
    };
    match at(0)? {
        b'J' if s.starts_with("January") => Some((Tok::MonthName, 7)),
        b'J' if s.starts_with("Jan") && !starts_lower(&s[3..]) => Some((Tok::MonthAbbr, 3)),
        b'M' if s.starts_with("Monday") => Some((Tok::WeekdayName, 6)),
        b'M' if s.starts_with("Mon") && !starts_lower(&s[3..]) => Some((Tok::WeekdayAbbr, 3)),
        b'M' if s.starts_with("MST") => Some((Tok::ZoneName, 3)),
        b'0' if s.starts_with("002") => Some((Tok::YearDay3, 3)),
        b'0' => match at(1)? {
            b'1' => Some((Tok::Month2, 2)),
            b'2' => Some((Tok::Day2, 2)),
            b'3' => Some((Tok::Hour12Pad, 2)),
            b'4' => Some((Tok::Minute2, 2)),
            b'5' => Some((Tok::Second2, 2)),
            b'6' => Some((Tok::Year2, 2)),
            _ => None,
        },
        b'1' if at(1) == Some(b'5') => Some((Tok::Hour, 2)),
        b'1' => Some((Tok::Month, 1)),
        b'2' if s.starts_with("2006") => Some((Tok::Year, 4)),
        b'2' => Some((Tok::Day, 1)),
        // `_2006` is a literal `_` before the year.
        b'_' if s.starts_with("_2") && !s.starts_with("_2006") => Some((Tok::DaySpace, 2)),
        b'_' if s.starts_with("__2") => Some((Tok::YearDaySpace, 3)),
        b'3' => Some((Tok::Hour12, 1)),
        b'4' => Some((Tok::Minute, 1)),
        b'5' => Some((Tok::Second, 1)),
        b'P' if at(1) == Some(b'M') => Some((Tok::PmUpper, 2)),
        b'p' if at(1) == Some(b'm') => Some((Tok::PmLower, 2)),
        b'-' => offsets(false),
        b'Z' => offsets(true),
        c @ (b'.' | b',') => {
            let d = at(1)?;
            if d != b'0' && d != b'9' {
                return None;
            }
            let run = b[1..].iter().take_while(|&&x| x == d).count();
            if b.get(1 + run).is_some_and(u8::is_ascii_digit) || run > 9 {
                return None;
            }
            Some((
                Tok::Frac {
                    sep: c as char,
                    digits: run as u8,
                    trim: d == b'9',
                },
                1 + run,
            ))
        }
        _ => None,
    }
}

/// Splits a layout into literal text and field tokens.
pub(crate) fn tokenize(layout: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut lit = 0;
    let mut i = 0;
    while i < layout.len() {
        if let Some((tok, n)) = field_at(&layout[i..]) {
            if lit < i {
                out.push(Tok::Lit(&layout[lit..i]));
            }
            out.push(tok);
            i += n;
            lit = i;
        } else {
            i += layout[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if lit < layout.len() {
        out.push(Tok::Lit(&layout[lit..]));
    }
    out
}

/// The calendar fields of a time as seen in its location, input to [`format`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) year: i32,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    /// 0 = Sunday.
    pub(crate) weekday: u32,
    pub(crate) year_day: u32,
    /// Seconds east of UTC.
    pub(crate) offset: i32,
    /// Zone abbreviation (`CET`); empty when unknown.
    pub(crate) abbrev: String,
}

impl Fields {
    /// The fields of `ts` in `tz`, with `abbrev` as the zone's name.
    pub(crate) fn of(ts: Timestamp, tz: &TimeZone, abbrev: Option<&str>) -> Fields {
        let info = tz.to_offset_info(ts);
        let offset = info.offset();
        let dt = offset.to_datetime(ts);
        Fields {
            year: dt.year().into(),
            month: dt.month() as u32,
            day: dt.day() as u32,
            hour: dt.hour() as u32,
            minute: dt.minute() as u32,
            second: dt.second() as u32,
            nanos: dt.subsec_nanosecond() as u32,
            weekday: dt.weekday().to_sunday_zero_offset() as u32,
            year_day: dt.day_of_year() as u32,
            offset: offset.seconds(),
            abbrev: abbrev.unwrap_or(info.abbreviation()).to_string(),
        }
    }
}

fn push_num(out: &mut String, n: i64, width: usize) {
    if n < 0 {
        out.push('-');
    }
    let s = n.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Renders `f` as `layout` describes.
pub(crate) fn format(layout: &str, f: &Fields) -> String {
    let mut out = String::with_capacity(layout.len() + 10);
    let hour12 = match f.hour % 12 {
        0 => 12,
        h => h,
    };
    for tok in tokenize(layout) {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Year => push_num(&mut out, f.year.into(), 4),
            Tok::Year2 => push_num(&mut out, f.year.rem_euclid(100).into(), 2),
            Tok::MonthAbbr => out.push_str(&MONTHS[f.month as usize - 1][..3]),
            Tok::MonthName => out.push_str(MONTHS[f.month as usize - 1]),
            Tok::Month2 => push_num(&mut out, f.month.into(), 2),
            Tok::Month => push_num(&mut out, f.month.into(), 1),
            Tok::WeekdayAbbr => out.push_str(&WEEKDAYS[f.weekday as usize][..3]),
            Tok::WeekdayName => out.push_str(WEEKDAYS[f.weekday as usize]),
            Tok::Day2 => push_num(&mut out, f.day.into(), 2),
            Tok::Day => push_num(&mut out, f.day.into(), 1),
            Tok::DaySpace => {
                if f.day < 10 {
                    out.push(' ');
                }
                push_num(&mut out, f.day.into(), 1);
            }
            Tok::YearDay3 => push_num(&mut out, f.year_day.into(), 3),
            Tok::YearDaySpace => {
                let s = f.year_day.to_string();
                for _ in s.len()..3 {
                    out.push(' ');
                }
                out.push_str(&s);
            }
            Tok::Hour => push_num(&mut out, f.hour.into(), 2),
            Tok::Hour12Pad => push_num(&mut out, hour12.into(), 2),
            Tok::Hour12 => push_num(&mut out, hour12.into(), 1),
            Tok::Minute2 => push_num(&mut out, f.minute.into(), 2),
            Tok::Minute => push_num(&mut out, f.minute.into(), 1),
            Tok::Second2 => push_num(&mut out, f.second.into(), 2),
            Tok::Second => push_num(&mut out, f.second.into(), 1),
            Tok::PmUpper => out.push_str(if f.hour >= 12 { "PM" } else { "AM" }),
            Tok::PmLower => out.push_str(if f.hour >= 12 { "pm" } else { "am" }),
            Tok::ZoneName => {
                if f.abbrev.is_empty() {
                    // No name known: Go prints the offset as `-0700`.
                    push_offset(&mut out, f.offset, false, true, false);
                } else {
                    out.push_str(&f.abbrev);
                }
            }
            Tok::Offset(st) => {
                if st.z && f.offset == 0 {
                    out.push('Z');
                } else {
                    push_offset(&mut out, f.offset, st.colon, st.minutes, st.seconds);
                }
            }
            Tok::Frac { sep, digits, trim } => {
                let all = format!("{:09}", f.nanos);
                let mut d = &all[..digits as usize];
                if trim {
                    d = d.trim_end_matches('0');
                }
                if !d.is_empty() {
                    out.push(sep);
                    out.push_str(d);
                }
            }
        }
    }
    out
}

fn push_offset(out: &mut String, offset: i32, colon: bool, minutes: bool, seconds: bool) {
    out.push(if offset < 0 { '-' } else { '+' });
    let a = offset.unsigned_abs();
    push_num(out, (a / 3600).into(), 2);
    if minutes {
        if colon {
            out.push(':');
        }
        push_num(out, (a % 3600 / 60).into(), 2);
    }
    if seconds {
        if colon {
            out.push(':');
        }
        push_num(out, (a % 60).into(), 2);
    }
}

/// What a value said about its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Nothing: the default location applies.
    None,
    /// `Z` or `UTC`.
    Utc,
    /// A numeric offset in seconds east of UTC.
    Offset(i32),
    /// An abbreviation such as `CET` or `GMT+3`.
    Name(String),
}

/// The fields found in a parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) year: i32,
    pub(crate) month: i8,
    pub(crate) day: i8,
    pub(crate) hour: i8,
    pub(crate) minute: i8,
    pub(crate) second: i8,
    pub(crate) nanos: i32,
    pub(crate) zone: Zone,
}

/// Why a value did not match its layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParseError(String);

struct Cursor<'v> {
    value: &'v str,
    layout: &'v str,
    rest: &'v str,
}

impl<'v> Cursor<'v> {
    fn bad(&self, tok: &Tok<'_>) -> ParseError {
        ParseError(format!(
            "parsing time {:?} as {:?}: cannot parse {:?} as {:?}",
            self.value,
            self.layout,
            self.rest,
            tok.text()
        ))
    }

    fn range(&self, what: &str) -> ParseError {
        ParseError(format!(
            "parsing time {:?}: {what} out of range",
            self.value
        ))
    }

    /// A number of 1..=`max` digits (exactly `max` when `fixed`).
    fn num(&mut self, max: usize, fixed: bool, tok: &Tok<'_>) -> Result<i32, ParseError> {
        let n = self
            .rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if n == 0 || (fixed && n < max) {
            return Err(self.bad(tok));
        }
        let v = self.rest[..n].parse().expect("only ASCII digits");
        self.rest = &self.rest[n..];
        Ok(v)
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize, tok: &Tok<'_>) -> Result<i32, ParseError> {
        self.num(n, true, tok)
    }

    /// One of `names` (or its 3-letter prefix when `abbr`), ASCII case-insensitively.
    fn name(&mut self, names: &[&str], abbr: bool, tok: &Tok<'_>) -> Result<usize, ParseError> {
        for (i, full) in names.iter().enumerate() {
            let want = if abbr { &full[..3] } else { full };
            if self.rest.len() >= want.len()
                && self.rest.as_bytes()[..want.len()].eq_ignore_ascii_case(want.as_bytes())
            {
                self.rest = &self.rest[want.len()..];
                return Ok(i);
            }
        }
        Err(self.bad(tok))
    }

    /// Literal layout text; a run of spaces matches any run of spaces.
    fn literal(&mut self, lit: &'v str) -> Result<(), ParseError> {
        let mut l = lit;
        while let Some(c) = l.chars().next() {
            if c == ' ' {
                if self.rest.starts_with(|x: char| x != ' ') {
                    return Err(self.bad(&Tok::Lit(lit)));
                }
                l = l.trim_start_matches(' ');
                self.rest = self.rest.trim_start_matches(' ');
                continue;
            }
            if !self.rest.starts_with(c) {
                return Err(self.bad(&Tok::Lit(lit)));
            }
            l = &l[c.len_utf8()..];
            self.rest = &self.rest[c.len_utf8()..];
        }
        Ok(())
    }

    /// `.123` / `,123`: all its digits, the first nine of which count.
    fn fraction(&mut self, exact: Option<usize>, tok: &Tok<'_>) -> Result<i32, ParseError> {
        let b = self.rest.as_bytes();
        if !matches!(b.first(), Some(b'.' | b',')) {
            return Err(self.bad(tok));
        }
        let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let n = match exact {
            Some(want) if n < want => return Err(self.bad(tok)),
            Some(want) => want,
            None if n == 0 => return Err(self.bad(tok)),
            None => n,
        };
        let digits = &self.rest[1..1 + n];
        let mut ns: i32 = 0;
        for (i, c) in digits.bytes().take(9).enumerate() {
            ns += i32::from(c - b'0') * 10i32.pow(8 - i as u32);
        }
        self.rest = &self.rest[1 + n..];
        Ok(ns)
    }
}

/// Length of a zone abbreviation at the start of `s` (Go's rules: `UTC`, `GMT±h`, `±hh[mm]`,
/// three to five capitals, `ChST`, `MeST`), or `None`.
fn zone_name_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if s.starts_with("ChST") || s.starts_with("MeST") {
        return Some(4);
    }
    if s.starts_with("GMT") {
        let r = &b[3..];
        if matches!(r.first(), Some(b'+' | b'-')) {
            let n = r[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if (1..=2).contains(&n) {
                return Some(4 + n);
            }
        }
        return Some(3);
    }
    if matches!(b[0], b'+' | b'-') {
        let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        return matches!(n, 2 | 4).then_some(1 + n);
    }
    let upper = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    match upper {
        3 => Some(3),
        4 if b[3] == b'T' || s.starts_with("WITA") => Some(4),
        5 if b[4] == b'T' => Some(5),
        _ => None,
    }
}

/// Offset in seconds of a name like `GMT+3` or `+0530`, if it carries one.
fn name_offset(name: &str) -> Option<i32> {
    let num = name.strip_prefix("GMT").unwrap_or(name);
    let (sign, digits) = match num.as_bytes().first()? {
        b'+' => (1, &num[1..]),
        b'-' => (-1, &num[1..]),
        _ => return None,
    };
    let (h, m) = if digits.len() == 4 && !name.starts_with("GMT") {
        (&digits[..2], &digits[2..])
    } else {
        (digits, "0")
    };
    Some(sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60))
}

/// Reads `value` as `layout` describes.
pub(crate) fn parse(layout: &str, value: &str) -> Result<Parsed, ParseError> {
    let toks = tokenize(layout);
    let mut c = Cursor {
        value,
        layout,
        rest: value,
    };
    let mut year = 0i32;
    let (mut month, mut day, mut yday) = (-1i32, -1i32, -1i32);
    let (mut hour, mut minute, mut second, mut nanos) = (0i32, 0i32, 0i32, 0i32);
    let (mut pm, mut am) = (false, false);
    let mut zone = Zone::None;
    for (i, tok) in toks.iter().enumerate() {
        match *tok {
            Tok::Lit(s) => c.literal(s)?,
            Tok::Year => year = c.digits(4, tok)?,
            Tok::Year2 => {
                let y = c.digits(2, tok)?;
                year = if y >= 69 { 1900 + y } else { 2000 + y };
            }
            Tok::MonthAbbr => month = c.name(&MONTHS, true, tok)? as i32 + 1,
            Tok::MonthName => month = c.name(&MONTHS, false, tok)? as i32 + 1,
            Tok::Month2 | Tok::Month => {
                month = c.num(2, *tok == Tok::Month2, tok)?;
                if !(1..=12).contains(&month) {
                    return Err(c.range("month"));
                }
            }
            Tok::WeekdayAbbr => {
                c.name(&WEEKDAYS, true, tok)?;
            }
            Tok::WeekdayName => {
                c.name(&WEEKDAYS, false, tok)?;
            }
            Tok::Day2 | Tok::Day | Tok::DaySpace => {
                if *tok == Tok::DaySpace {
                    c.rest = c.rest.strip_prefix(' ').unwrap_or(c.rest);
                }
                day = c.num(2, *tok == Tok::Day2, tok)?;
            }
            Tok::YearDay3 | Tok::YearDaySpace => {
                if *tok == Tok::YearDaySpace {
                    for _ in 0..2 {
                        c.rest = c.rest.strip_prefix(' ').unwrap_or(c.rest);
                    }
                }
                yday = c.num(3, *tok == Tok::YearDay3, tok)?;
            }
            Tok::Hour => {
                hour = c.num(2, false, tok)?;
                if hour >= 24 {
                    return Err(c.range("hour"));
                }
            }
            Tok::Hour12Pad | Tok::Hour12 => {
                hour = c.num(2, *tok == Tok::Hour12Pad, tok)?;
                if hour > 12 {
                    return Err(c.range("hour"));
                }
            }
            Tok::Minute2 | Tok::Minute => {
                minute = c.num(2, *tok == Tok::Minute2, tok)?;
                if minute >= 60 {
                    return Err(c.range("minute"));
                }
            }
            Tok::Second2 | Tok::Second => {
                second = c.num(2, *tok == Tok::Second2, tok)?;
                if second >= 60 {
                    return Err(c.range("second"));
                }
                // A fraction may follow the seconds even when the layout has none.
                let b = c.rest.as_bytes();
                let next_is_frac = matches!(toks.get(i + 1), Some(Tok::Frac { .. }));
                if !next_is_frac
                    && b.len() >= 2
                    && matches!(b[0], b'.' | b',')
                    && b[1].is_ascii_digit()
                {
                    nanos = c.fraction(None, tok)?;
                }
            }
            Tok::PmUpper | Tok::PmLower => {
                let (p, a) = if *tok == Tok::PmUpper {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                if c.rest.starts_with(p) {
                    pm = true;
                } else if c.rest.starts_with(a) {
                    am = true;
                } else {
                    return Err(c.bad(tok));
                }
                c.rest = &c.rest[2..];
            }
            Tok::Offset(st) => {
                if st.z && c.rest.starts_with('Z') {
                    c.rest = &c.rest[1..];
                    zone = Zone::Utc;
                    continue;
                }
                let sign = match c.rest.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(c.bad(tok)),
                };
                let start = c.rest;
                c.rest = &c.rest[1..];
                let hh = c.digits(2, tok).inspect_err(|_| c.rest = start)?;
                let mut part = |want: bool| -> Result<i32, ParseError> {
                    if !want {
                        return Ok(0);
                    }
                    if st.colon {
                        if !c.rest.starts_with(':') {
                            c.rest = start;
                            return Err(c.bad(tok));
                        }
                        c.rest = &c.rest[1..];
                    }
                    c.digits(2, tok).inspect_err(|_| c.rest = start)
                };
                let mm = part(st.minutes)?;
                let ss = part(st.seconds)?;
                if hh > 24 {
                    return Err(c.range("time zone offset hour"));
                }
                if mm > 60 {
                    return Err(c.range("time zone offset minute"));
                }
                if ss > 60 {
                    return Err(c.range("time zone offset second"));
                }
                zone = Zone::Offset(sign * (hh * 3600 + mm * 60 + ss));
            }
            Tok::ZoneName => {
                if c.rest.starts_with("UTC") {
                    c.rest = &c.rest[3..];
                    zone = Zone::Utc;
                    continue;
                }
                let n = zone_name_len(c.rest).ok_or_else(|| c.bad(tok))?;
                zone = Zone::Name(c.rest[..n].to_string());
                c.rest = &c.rest[n..];
            }
            Tok::Frac { digits, trim, .. } => {
                if trim {
                    let b = c.rest.as_bytes();
                    // `.999`: the fraction may be left out.
                    if b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
                        nanos = c.fraction(None, tok)?;
                    }
                } else {
                    nanos = c.fraction(Some(digits as usize), tok)?;
                }
            }
        }
    }
    if !c.rest.is_empty() {
        return Err(ParseError(format!(
            "parsing time {value:?}: extra text: {:?}",
            c.rest
        )));
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if !(-9999..=9999).contains(&year) {
        return Err(c.range("year"));
    }
    let leap = Date::new(year as i16, 1, 1)
        .expect("year checked above")
        .in_leap_year();
    if yday >= 0 {
        if yday < 1 || yday > if leap { 366 } else { 365 } {
            return Err(c.range("day-of-year"));
        }
        let d = Date::new(year as i16, 1, 1)
            .expect("year checked above")
            .with()
            .day_of_year(yday as i16)
            .build()
            .map_err(|_| c.range("day-of-year"))?;
        if month >= 0 && month != i32::from(d.month()) {
            return Err(ParseError(format!(
                "parsing time {value:?}: day-of-year does not match month"
            )));
        }
        if day >= 0 && day != i32::from(d.day()) {
            return Err(ParseError(format!(
                "parsing time {value:?}: day-of-year does not match day"
            )));
        }
        month = d.month().into();
        day = d.day().into();
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let dim = Date::new(year as i16, month as i8, 1)
        .expect("year and month checked")
        .days_in_month();
    if day < 1 || day > i32::from(dim) {
        return Err(c.range("day"));
    }
    Ok(Parsed {
        year,
        month: month as i8,
        day: day as i8,
        hour: hour as i8,
        minute: minute as i8,
        second: second as i8,
        nanos,
        zone,
    })
}

/// Places parsed fields in time: a numeric offset or `Z` fixes the instant; a zone name is
/// looked up in `loc` (the default location); without zone information the fields are read
/// as civil time in `loc`.
pub(crate) fn resolve(p: &Parsed, loc: &Loc) -> Result<(Timestamp, Loc), ParseError> {
    let out_of_range = |e: jiff::Error| ParseError(format!("time out of range: {e}"));
    let dt = DateTime::new(
        p.year as i16,
        p.month,
        p.day,
        p.hour,
        p.minute,
        p.second,
        p.nanos,
    )
    .map_err(out_of_range)?;
    let at_offset = |secs: i32| -> Result<Timestamp, ParseError> {
        let off = Offset::from_seconds(secs).map_err(out_of_range)?;
        off.to_timestamp(dt).map_err(out_of_range)
    };
    match &p.zone {
        Zone::None => {
            let ts = loc
                .tz
                .to_ambiguous_timestamp(dt)
                .compatible()
                .map_err(out_of_range)?;
            Ok((ts, loc.clone()))
        }
        Zone::Utc => Ok((at_offset(0)?, Loc::utc())),
        Zone::Offset(secs) => {
            let ts = at_offset(*secs)?;
            // The default location, if it has that offset then; otherwise an unnamed zone.
            if loc.tz.to_offset(ts).seconds() == *secs {
                Ok((ts, loc.clone()))
            } else {
                Ok((ts, Loc::fixed_unchecked("", *secs)))
            }
        }
        Zone::Name(name) => {
            // A name the default location uses at about that time.
            let guess = at_offset(0)?;
            let info = loc.tz.to_offset_info(guess);
            if info.abbreviation() == name.as_str() {
                let ts = at_offset(info.offset().seconds())?;
                return Ok((ts, loc.clone()));
            }
            // Otherwise a made-up zone with the offset the name spells, or zero (as Go does).
            let secs = name_offset(name).unwrap_or(0);
            Ok((at_offset(secs)?, Loc::fixed_unchecked(name, secs)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(year: i32, month: u32, day: u32, h: u32, mi: u32, s: u32, ns: u32) -> Fields {
        let d = Date::new(year as i16, month as i8, day as i8).unwrap();
        Fields {
            year,
            month,
            day,
            hour: h,
            minute: mi,
            second: s,
            nanos: ns,
            weekday: d.weekday().to_sunday_zero_offset() as u32,
            year_day: d.day_of_year() as u32,
            offset: -7 * 3600,
            abbrev: "MST".into(),
        }
    }

    /// The reference time itself.
    fn reference() -> Fields {
        fields(2006, 1, 2, 15, 4, 5, 123_456_789)
    }

    #[test]
    fn tokenizes_reference_pieces() {
        use Tok::*;
        assert_eq!(
            tokenize("Mon Jan 2 15:04:05 MST 2006"),
            vec![
                WeekdayAbbr,
                Lit(" "),
                MonthAbbr,
                Lit(" "),
                Day,
                Lit(" "),
                Hour,
                Lit(":"),
                Minute2,
                Lit(":"),
                Second2,
                Lit(" "),
                ZoneName,
                Lit(" "),
                Year
            ]
        );
        assert_eq!(tokenize("Janet"), vec![Lit("Janet")]);
        assert_eq!(tokenize("Month"), vec![Lit("Month")]);
        assert_eq!(tokenize("_2006"), vec![Lit("_"), Year]);
        assert_eq!(tokenize("__2"), vec![YearDaySpace]);
        assert_eq!(tokenize("x.0001"), vec![Lit("x.00"), Month2]);
        assert_eq!(
            tokenize(".000,999"),
            vec![
                Frac {
                    sep: '.',
                    digits: 3,
                    trim: false
                },
                Frac {
                    sep: ',',
                    digits: 3,
                    trim: true
                }
            ]
        );
        assert_eq!(tokenize("héllo 7"), vec![Lit("héllo 7")]);
        assert_eq!(tokenize(""), vec![]);
    }

    #[test]
    fn formats_every_token() {
        let f = reference();
        let cases = [
            ("2006", "2006"),
            ("06", "06"),
            ("Jan", "Jan"),
            ("January", "January"),
            ("01", "01"),
            ("1", "1"),
            ("Mon", "Mon"),
            ("Monday", "Monday"),
            ("02", "02"),
            ("2", "2"),
            ("_2", " 2"),
            ("002", "002"),
            ("__2", "  2"),
            ("15", "15"),
            ("03", "03"),
            ("3", "3"),
            ("04", "04"),
            ("4", "4"),
            ("05", "05"),
            ("5", "5"),
            ("PM", "PM"),
            ("pm", "pm"),
            ("MST", "MST"),
            ("-0700", "-0700"),
            ("-07:00", "-07:00"),
            ("-07", "-07"),
            ("-070000", "-070000"),
            ("-07:00:00", "-07:00:00"),
            ("Z0700", "-0700"),
            ("Z07:00", "-07:00"),
            ("Z07", "-07"),
            (".000", ".123"),
            (",000000", ",123456"),
            (".000000000", ".123456789"),
            (".999", ".123"),
            (".9", ".1"),
            ("literal text!", "literal text!"),
        ];
        for (layout, want) in cases {
            assert_eq!(format(layout, &f), want, "layout {layout:?}");
        }
    }

    #[test]
    fn formats_edges() {
        let mut f = fields(2024, 12, 25, 0, 5, 9, 0);
        f.offset = 0;
        f.abbrev = "UTC".into();
        assert_eq!(format("3:04PM", &f), "12:05AM");
        assert_eq!(format("Z07:00 Z0700 -07:00", &f), "Z Z +00:00");
        assert_eq!(format("05.999|05.000", &f), "09|09.000");
        assert_eq!(format("002 __2 _2", &f), "360 360 25");
        f.nanos = 500_000_000;
        assert_eq!(format("05.999999999", &f), "09.5");
        f.hour = 12;
        assert_eq!(format("3pm 03PM", &f), "12pm 12PM");
        f.hour = 23;
        assert_eq!(format("3pm", &f), "11pm");
        f.offset = 5 * 3600 + 30 * 60 + 15;
        f.abbrev.clear();
        assert_eq!(format("MST", &f), "+0530");
        assert_eq!(format("-07:00:00", &f), "+05:30:15");
        assert_eq!(format("-07", &f), "+05");
        let f = fields(5, 3, 1, 1, 1, 1, 0);
        assert_eq!(format("2006 06", &f), "0005 05");
        let f = fields(-44, 3, 15, 0, 0, 0, 0);
        assert_eq!(format("2006", &f), "-0044");
    }

    #[test]
    fn formats_named_layouts() {
        let f = fields(2006, 1, 2, 15, 4, 5, 0);
        for (layout, want) in [
            ("2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05-07:00"),
            ("02 Jan 06 15:04 MST", "02 Jan 06 15:04 MST"),
            (
                "Monday, 02-Jan-06 15:04:05 MST",
                "Monday, 02-Jan-06 15:04:05 MST",
            ),
            (
                "Mon, 02 Jan 2006 15:04:05 -0700",
                "Mon, 02 Jan 2006 15:04:05 -0700",
            ),
            ("3:04PM", "3:04PM"),
            ("Jan _2 15:04:05.000", "Jan  2 15:04:05.000"),
        ] {
            assert_eq!(format(layout, &f), want);
        }
    }

    fn p(layout: &str, value: &str) -> Parsed {
        parse(layout, value).unwrap_or_else(|e| panic!("{layout:?} {value:?}: {e}"))
    }

    fn perr(layout: &str, value: &str) -> String {
        match parse(layout, value) {
            Ok(v) => panic!("{layout:?} {value:?} parsed as {v:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn parses_every_token() {
        let r = p(
            "2006-01-02 15:04:05.000 -0700",
            "2024-03-09 07:08:09.250 +0130",
        );
        assert_eq!(
            (r.year, r.month, r.day, r.hour, r.minute, r.second, r.nanos),
            (2024, 3, 9, 7, 8, 9, 250_000_000)
        );
        assert_eq!(r.zone, Zone::Offset(5400));
        assert_eq!(p("06", "69").year, 1969);
        assert_eq!(p("06", "68").year, 2068);
        assert_eq!(p("Jan", "sep").month, 9);
        assert_eq!(p("January", "SEPTEMBER").month, 9);
        assert_eq!(p("1", "7").month, 7);
        assert_eq!(p("1", "11").month, 11);
        assert_eq!(p("Mon Jan 2", "Fri Feb 9").day, 9);
        assert_eq!(p("Monday 2", "tuesday 10").day, 10);
        assert_eq!(p("_2", " 5").day, 5);
        assert_eq!(p("_2", "15").day, 15);
        let r = p("2006 002", "2024 060");
        assert_eq!((r.month, r.day), (2, 29));
        let r = p("2006 __2", "2023   9");
        assert_eq!((r.month, r.day), (1, 9));
        assert_eq!(p("3PM", "3PM").hour, 15);
        assert_eq!(p("03pm", "12am").hour, 0);
        assert_eq!(p("3PM", "12PM").hour, 12);
        assert_eq!(p("4 5", "7 8").minute, 7);
        assert_eq!(p("Z07:00", "Z").zone, Zone::Utc);
        assert_eq!(p("Z07:00", "-03:30").zone, Zone::Offset(-12600));
        assert_eq!(p("-07", "+05").zone, Zone::Offset(18000));
        assert_eq!(p("-070000", "+010203").zone, Zone::Offset(3723));
        assert_eq!(p("Z07:00:00", "-01:02:03").zone, Zone::Offset(-3723));
        assert_eq!(p("MST", "UTC").zone, Zone::Utc);
        assert_eq!(p("MST", "CEST").zone, Zone::Name("CEST".into()));
        assert_eq!(p("MST", "GMT+3").zone, Zone::Name("GMT+3".into()));
        assert_eq!(p("MST", "+03").zone, Zone::Name("+03".into()));
        assert_eq!(p("MST", "ChST").zone, Zone::Name("ChST".into()));
        // Any number of fraction digits after seconds, first nine count.
        assert_eq!(p("15:04:05", "10:00:00.5").nanos, 500_000_000);
        assert_eq!(p("15:04:05", "10:00:00,1234567891").nanos, 123_456_789);
        assert_eq!(p("05.999", "07").nanos, 0);
        assert_eq!(p("05.999", "07.12").nanos, 120_000_000);
        assert_eq!(p("05,000", "07.120").nanos, 120_000_000);
        // Spaces: a run matches a run.
        assert_eq!(p("Jan 2", "Feb    3").day, 3);
        // Defaults.
        let r = p("15:04", "10:30");
        assert_eq!((r.year, r.month, r.day, r.zone), (0, 1, 1, Zone::None));
    }

    #[test]
    fn rejects_bad_input() {
        for (layout, value, want) in [
            ("2006", "24", "cannot parse"),
            ("2006", "abcd", "cannot parse"),
            ("01", "1", "cannot parse"),
            ("01", "13", "month out of range"),
            ("1", "0", "month out of range"),
            ("02", "9", "cannot parse"),
            ("2006-01-02", "2023-02-29", "day out of range"),
            ("2006-01-02", "2024-04-31", "day out of range"),
            ("2006 002", "2023 366", "day-of-year out of range"),
            ("2006-01 002", "2024-03 060", "does not match month"),
            ("15", "24", "hour out of range"),
            ("3", "13", "hour out of range"),
            ("04", "60", "minute out of range"),
            ("05", "61", "second out of range"),
            ("PM", "XM", "cannot parse"),
            ("pm", "PM", "cannot parse"),
            ("-0700", "0700", "cannot parse"),
            ("-07:00", "+0700", "cannot parse"),
            ("-0700", "+2500", "time zone offset hour out of range"),
            ("MST", "mst", "cannot parse"),
            ("MST", "ABCDEFG", "cannot parse"),
            (".000", ".12", "cannot parse"),
            (".000", "123", "cannot parse"),
            ("Jan", "Foo", "cannot parse"),
            ("Monday", "Mon", "cannot parse"),
            ("2006-01-02", "2024-01-02x", "extra text"),
            ("2006-01-02", "2024/01/02", "cannot parse"),
            ("2006-01-02", "", "cannot parse"),
            ("Jan 2", "Jan2", "cannot parse"),
        ] {
            let e = perr(layout, value);
            assert!(e.contains(want), "{layout:?} {value:?}: {e}");
        }
        let e = perr("2006-01-02", "2024-13-01");
        assert!(e.starts_with("parsing time \"2024-13-01\""), "{e}");
    }

    #[test]
    fn round_trips() {
        let utc = Loc::utc();
        let paris = Loc::named("Europe/Paris").expect("tzdb has Europe/Paris");
        let fixed = Loc::fixed_unchecked("XYZ", -(3 * 3600 + 1800));
        let layouts = [
            "2006-01-02T15:04:05Z07:00",
            "2006-01-02T15:04:05.999999999Z07:00",
            "Mon, 02 Jan 2006 15:04:05 -0700",
            "Monday, 02-Jan-06 15:04:05.000000 -07:00:00",
            "2006 002 03:04:05.000000000PM -0700",
            "January _2 2006 15h04m05s ,000 Z0700",
        ];
        for ns in [
            0i128,
            1_700_000_000_123_456_789,
            951_782_400_000_000_001,
            -86_400_000_000_000,
            1_719_792_000_500_000_000,
        ] {
            let ts = Timestamp::from_nanosecond(ns).unwrap();
            for loc in [&utc, &paris, &fixed] {
                let f = Fields::of(ts, &loc.tz, None);
                for layout in layouts {
                    let s = format(layout, &f);
                    let parsed = parse(layout, &s).unwrap_or_else(|e| panic!("{s}: {e}"));
                    let (back, _) = resolve(&parsed, &utc).unwrap();
                    let keep = if layout.contains(".999999999") || layout.contains(".000000000") {
                        ns
                    } else if layout.contains("000000") {
                        ns - ns.rem_euclid(1000)
                    } else if layout.contains("000") {
                        ns - ns.rem_euclid(1_000_000)
                    } else {
                        ns - ns.rem_euclid(1_000_000_000)
                    };
                    assert_eq!(back.as_nanosecond(), keep, "{layout} {s}");
                }
            }
        }
    }

    #[test]
    fn resolves_zones() {
        let paris = Loc::named("Europe/Paris").unwrap();
        // No zone in the value: civil time in the default location.
        let r = p("2006-01-02 15:04", "2024-07-01 12:00");
        let (ts, loc) = resolve(&r, &paris).unwrap();
        assert_eq!(ts.as_second(), 1_719_828_000);
        assert_eq!(&*loc.name, "Europe/Paris");
        // An offset that the default location has then keeps that location.
        let r = p("2006-01-02 15:04 -0700", "2024-07-01 12:00 +0200");
        let (ts, loc) = resolve(&r, &paris).unwrap();
        assert_eq!(
            (ts.as_second(), &*loc.name),
            (1_719_828_000, "Europe/Paris")
        );
        // Another offset gives an unnamed fixed zone.
        let r = p("2006-01-02 15:04 -0700", "2024-07-01 12:00 +0300");
        let (ts, loc) = resolve(&r, &paris).unwrap();
        assert_eq!((ts.as_second(), &*loc.name), (1_719_824_400, ""));
        // A name the location uses.
        let r = p("2006-01-02 15:04 MST", "2024-07-01 12:00 CEST");
        let (ts, loc) = resolve(&r, &paris).unwrap();
        assert_eq!(
            (ts.as_second(), &*loc.name),
            (1_719_828_000, "Europe/Paris")
        );
        // An unknown name: offset zero, named after it.
        let r = p("2006-01-02 15:04 MST", "2024-07-01 12:00 ABC");
        let (ts, loc) = resolve(&r, &paris).unwrap();
        assert_eq!((ts.as_second(), &*loc.name), (1_719_835_200, "ABC"));
        let r = p("2006-01-02 15:04 MST", "2024-07-01 12:00 GMT+3");
        let (ts, _) = resolve(&r, &paris).unwrap();
        assert_eq!(ts.as_second(), 1_719_824_400);
        let r = p("Z07:00", "Z");
        assert_eq!(&*resolve(&r, &paris).unwrap().1.name, "UTC");
    }
}
