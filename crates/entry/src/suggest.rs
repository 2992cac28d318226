//! "Did you mean ...?" for names a user mistyped: entry fields, entry ids, modules, kinds and
//! command-line words.

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely
/// typo (at most a third of the word's length, at least one edit) and not `word` itself.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// ` (did you mean 'x'?)` when a close candidate exists, else empty.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_only() {
        let fields = ["source", "method", "modules", "imports"];
        assert_eq!(closest("modles", fields), Some("modules"));
        assert_eq!(closest("metod", fields), Some("method"));
        assert_eq!(closest("sorce", fields), Some("source"));
        assert_eq!(closest("xyz", fields), None);
        assert_eq!(closest("modules", fields), None);
        assert_eq!(hint("jsn", ["json", "time"]), " (did you mean 'json'?)");
        assert_eq!(hint("http", ["json", "time"]), "");
    }
}
