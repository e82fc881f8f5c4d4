//! split: a script or notify command string into argv, without a shell.
//!
//! The rule (keepalived.conf(5), "Quoted strings" and "SCRIPTS"):
//! unquoted whitespace separates words; single or double quotes group text
//! (quotes removed, the whitespace inside kept); a backslash outside single
//! quotes makes the next character literal. Quote runs glue to adjacent
//! text (`a'b c'd` is one word `ab cd`).

/// Split `s` into words. An unterminated quote runs to the end.
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::split_command;

    #[test]
    fn splits_like_keepalived() {
        assert_eq!(
            split_command("/etc/keepalived/notify.sh  MASTER 'VI 1'"),
            vec!["/etc/keepalived/notify.sh", "MASTER", "VI 1"]
        );
        assert_eq!(split_command(r#"a "b c" d\ e"#), vec!["a", "b c", "d e"]);
        assert_eq!(split_command("x'y z'w"), vec!["xy zw"]);
        assert_eq!(split_command("''"), vec![""]);
        assert!(split_command("   ").is_empty());
    }
}
