//! Text edits on a source: insertions and replacements that never add or remove a newline.
//!
//! Several insertions may land on one byte position (`f(g(a & b))` lowers to nested calls
//! that open and close at the same places). Their order is part of the edit: at one
//! position, closings come first (innermost first), then openings (outermost first), then
//! a replacement that starts there.

/// One edit of `src[start..end]`.
#[derive(Clone, Debug)]
pub(super) struct Edit {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) text: String,
    order: (u8, i64, i64),
}

impl Edit {
    /// Replaces `src[start..end]` with `text`.
    pub(super) fn replace(start: usize, end: usize, text: impl Into<String>) -> Edit {
        Edit {
            start,
            end,
            text: text.into(),
            order: (2, 0, 0),
        }
    }

    /// Closes a construct that began at `owner_start` (nesting `depth` among constructs that
    /// begin at the same place): inner constructs close first.
    pub(super) fn close(
        at: usize,
        text: impl Into<String>,
        owner_start: usize,
        depth: i64,
    ) -> Edit {
        Edit {
            start: at,
            end: at,
            text: text.into(),
            order: (0, -(owner_start as i64), -depth),
        }
    }

    /// Opens a construct that ends at `owner_end`: outer constructs open first.
    pub(super) fn open(at: usize, text: impl Into<String>, owner_end: usize) -> Edit {
        Edit {
            start: at,
            end: at,
            text: text.into(),
            order: (1, -(owner_end as i64), 0),
        }
    }
}

/// Spaces in place of `src[start..end]`, keeping its newlines.
pub(super) fn blank(src: &str, start: usize, end: usize) -> Edit {
    let text: String = src[start..end]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    Edit::replace(start, end, text)
}

/// Applies the edits; an edit overlapping an earlier replacement is dropped.
pub(super) fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    if edits.is_empty() {
        return src.to_string();
    }
    edits.sort_by_key(|e| (e.start, e.order));
    let extra: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(src.len() + extra);
    let mut at = 0;
    for e in edits {
        if e.start < at {
            continue;
        }
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_at_one_position() {
        // "a" closes two constructs at 1 and opens two at 1; "b" is replaced.
        let src = "a b";
        let edits = vec![
            Edit::open(2, "[outer ", 10),
            Edit::close(1, ")inner", 1, 0),
            Edit::close(1, ")outer", 0, 0),
            Edit::open(2, "[inner ", 5),
            Edit::replace(2, 3, "B"),
        ];
        assert_eq!(apply(src, edits), "a)inner)outer [outer [inner B");
        assert_eq!(apply("x\ny", vec![blank("x\ny", 0, 3)]), " \n ");
    }
}
