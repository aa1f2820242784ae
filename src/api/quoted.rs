//! A request's value as a refusal repeats it: whole when short, else its first
//! [`ECHOED_CHARS`] characters and its length, so that no refusal grows with what a client sent.

use std::fmt;

use crate::limits::ECHOED_CHARS;

/// A value, quoted and cut for a message: `'Asia/Shangai'`, or `'xxxx…' (1048576 characters)`.
#[derive(Clone, Copy, Debug)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0) {
            Some(head) => write!(f, "'{head}…' ({} characters)", self.0.chars().count()),
            None => write!(f, "'{}'", self.0),
        }
    }
}

/// The value as metadata carries it: whole when short, else cut like [`Quoted`], unquoted.
pub fn shortened(value: &str) -> String {
    match cut(value) {
        Some(head) => format!("{head}… ({} characters)", value.chars().count()),
        None => value.to_string(),
    }
}

/// The first [`ECHOED_CHARS`] characters, when the value has more.
fn cut(value: &str) -> Option<&str> {
    let (end, _) = value.char_indices().nth(ECHOED_CHARS)?;
    Some(&value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_whole_and_long_ones_cut_with_their_length() {
        assert_eq!(Quoted("Asia/Shangai").to_string(), "'Asia/Shangai'");
        let exact = "é".repeat(ECHOED_CHARS);
        assert_eq!(Quoted(&exact).to_string(), format!("'{exact}'"));
        let long = "é".repeat(1 << 20);
        let shown = Quoted(&long).to_string();
        assert!(shown.ends_with("…' (1048576 characters)"), "{shown}");
        assert_eq!(
            shown.chars().count(),
            ECHOED_CHARS + 2 + " (1048576 characters)".len() + 1
        );
        assert_eq!(
            shortened(&long).chars().filter(|&c| c == 'é').count(),
            ECHOED_CHARS
        );
        assert_eq!(shortened("x"), "x");
    }
}
