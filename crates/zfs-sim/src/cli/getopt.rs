//! GNU-style option parsing like the `zfs` command's `getopt` (options may follow operands,
//! clusters such as `-Hp`, arguments attached `-oname` or separate `-o name`, `--` ends options).

use crate::errors::{Result, SimError};

/// Parsed options in order, and the operands.
#[derive(Debug, Default, Clone)]
pub struct Opts {
    /// Options with their arguments, in command-line order.
    pub opts: Vec<(char, Option<String>)>,
    /// Operands.
    pub args: Vec<String>,
}

impl Opts {
    /// Whether flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    /// Every argument of option `c`, in order.
    pub fn all(&self, c: char) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(o, _)| *o == c)
            .filter_map(|(_, a)| a.as_deref())
            .collect()
    }

    /// The last argument of option `c`.
    pub fn last(&self, c: char) -> Option<&str> {
        self.all(c).last().copied()
    }
}

/// Parses `args` against `spec` (`"rHo:"`: a letter followed by `:` takes an argument).
/// `usage` is appended to error messages (exit status 2).
pub fn parse(args: &[String], spec: &str, usage: &str) -> Result<Opts> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            o.args.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            o.args.push(a.clone());
            i += 1;
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            let pos = spec.find(c).filter(|_| c != ':');
            let Some(pos) = pos else {
                return Err(SimError::usage(format!("invalid option '{c}'\n{usage}")));
            };
            let takes = spec[pos + c.len_utf8()..].starts_with(':');
            if takes {
                let rest: String = chars[j + 1..].iter().collect();
                let val = if !rest.is_empty() {
                    rest
                } else {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            return Err(SimError::usage(format!(
                                "missing argument for '{c}' option\n{usage}"
                            )));
                        }
                    }
                };
                o.opts.push((c, Some(val)));
                break;
            }
            o.opts.push((c, None));
            j += 1;
        }
        i += 1;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn clusters_attached_args_and_permutation() {
        let o = parse(
            &s(&["-Hp", "-oname,guid", "pool", "-r", "-t", "snapshot"]),
            "Hpro:t:",
            "",
        )
        .unwrap();
        assert!(o.has('H') && o.has('p') && o.has('r'));
        assert_eq!(o.last('o'), Some("name,guid"));
        assert_eq!(o.last('t'), Some("snapshot"));
        assert_eq!(o.args, s(&["pool"]));
    }

    #[test]
    fn errors_are_usage_errors() {
        let e = parse(&s(&["-z"]), "H", "usage").unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.starts_with("invalid option 'z'"));
        let e = parse(&s(&["-o"]), "o:", "usage").unwrap_err();
        assert!(e.message.starts_with("missing argument for 'o' option"));
    }
}
