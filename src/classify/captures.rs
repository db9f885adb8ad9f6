//! Capture groups without paying for them on the whole text: the lazy DFA (`find`) locates a
//! match first, and only that match is re-run for its groups.

use regex::{Captures, Regex};

/// The groups of the first match of `re` in `text`.
pub(crate) fn first_captures<'t>(re: &Regex, text: &'t str) -> Option<Captures<'t>> {
    let m = re.find(text)?;
    re.captures_at(text, m.start())
}

/// The groups of every match of `re` in `text`, in order.
pub(crate) fn all_captures<'r, 't>(
    re: &'r Regex,
    text: &'t str,
) -> impl Iterator<Item = Captures<'t>> + use<'r, 't> {
    re.find_iter(text)
        .filter_map(move |m| re.captures_at(text, m.start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_groups_as_captures() {
        let re = Regex::new(r"(\d+)-(\w+)").unwrap();
        let text = "a 12-ab b 3-c";
        let got: Vec<String> = all_captures(&re, text).map(|c| c[2].to_owned()).collect();
        assert_eq!(got, ["ab", "c"]);
        assert_eq!(&first_captures(&re, text).unwrap()[1], "12");
        assert!(first_captures(&re, "none").is_none());
    }
}
