//! Number formatting shared by the benchmark tables.

/// `v` with `decimals` decimals; integral figures (`decimals == 0`) get thousands separators.
pub(crate) fn fmt_num(v: f64, decimals: usize) -> String {
    if decimals == 0 {
        // Thousands separators for the big integral figures.
        let s = format!("{:.0}", v);
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}")
    } else {
        format!("{v:.decimals$}")
    }
}
