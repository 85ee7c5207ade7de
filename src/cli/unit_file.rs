//! Reading `Environment=` and `ExecStart=` the way systemd does, and writing values it reads back
//! unchanged.
//!
//! systemd splits an `Environment=` value into words (whitespace-separated, double or single
//! quotes group, C escapes such as `\"`, `\\`, `\x20` are decoded), each word one `NAME=VALUE`;
//! an empty `Environment=` resets the list; later assignments win. Lines ending in a backslash
//! continue on the next line, `#` and `;` start comments, and only the `[Service]` section
//! counts. Pure functions over text: unit-tested below.

use std::collections::BTreeMap;

/// The variables a unit's files assign, applied in the order given (unit file, then drop-ins).
pub fn environment_of(files: &[String]) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for text in files {
        for value in service_values(text, "Environment") {
            if value.trim().is_empty() {
                variables.clear();
                continue;
            }
            // `%%` is the specifier escape for one `%` (other specifiers are left as written).
            apply_words(&value.replace("%%", "%"), &mut variables);
        }
    }
    variables
}

/// Adds each `NAME=VALUE` word of one `Environment=` value (or of `systemctl show`'s line).
pub fn apply_words(value: &str, variables: &mut BTreeMap<String, String>) {
    for word in split_words(value) {
        if let Some((name, value)) = word.split_once('=') {
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                variables.insert(name.to_string(), value.to_string());
            }
        }
    }
}

/// The commands a unit's `ExecStart=` lines leave (unit file, then drop-ins; an empty one resets
/// the list), each as written: its prefixes (`-@:+!`) and its words.
pub fn exec_starts(files: &[String]) -> Vec<String> {
    let mut commands = Vec::new();
    for text in files {
        for value in service_values(text, "ExecStart") {
            if value.is_empty() {
                commands.clear();
            } else {
                commands.push(value);
            }
        }
    }
    commands
}

/// A command's prefixes (`-`, `@`, `:`, `+`, `!`, `!!`) and the program, its first word after them.
pub fn exec_program(command: &str) -> (&str, String) {
    let rest = command.trim_start_matches(['-', '@', ':', '+', '!']);
    let prefixes = &command[..command.len() - rest.len()];
    let program = split_words(rest).into_iter().next().unwrap_or_default();
    (prefixes, program)
}

/// The values of the `KEY=` lines of the `[Service]` section, continuations joined.
fn service_values(text: &str, wanted: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut in_service = false;
    let mut pending = String::new();
    for raw in text.lines() {
        let continued = !pending.is_empty();
        let line = if continued { raw } else { raw.trim_start() };
        if !continued && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        let logical = logical.trim();
        if logical.starts_with('[') {
            in_service = logical == "[Service]";
            continue;
        }
        if !in_service {
            continue;
        }
        if let Some((key, value)) = logical.split_once('=') {
            if key.trim() == wanted {
                values.push(value.trim().to_string());
            }
        }
    }
    values
}

/// Splits a value into words: quotes group, C escapes are decoded (an unknown escape stands
/// for the character itself, as in `systemctl show`'s `\ `).
pub fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some('x') => {
                        let hex: String = (0..2).filter_map(|_| chars.next()).collect();
                        match u8::from_str_radix(&hex, 16) {
                            Ok(byte) => word.push(char::from(byte)),
                            Err(_) => word.push_str(&hex),
                        }
                    }
                    Some(other) => word.push(other),
                    None => {}
                },
                (q @ ('"' | '\''), None) => quote = Some(q),
                (c, Some(q)) if c == q => quote = None,
                (c, None) if c.is_whitespace() => break,
                (c, _) => word.push(c),
            }
        }
        words.push(word);
    }
}

/// A value written inside double quotes in a unit file: systemd reads it back as it is
/// (backslashes and quotes escaped, `%` doubled so it is no specifier).
pub fn quote_value(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(files: &[&str]) -> BTreeMap<String, String> {
        environment_of(&files.iter().map(|f| f.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn quoting_and_several_assignments_per_line() {
        let vars = env(&[
            "[Service]\nEnvironment=\"LD_PRELOAD=/a.so /b.so\" PORT=80 'X=a b'\nEnvironment=Y=\\x41\\\"\n",
        ]);
        assert_eq!(vars["LD_PRELOAD"], "/a.so /b.so");
        assert_eq!(vars["PORT"], "80");
        assert_eq!(vars["X"], "a b");
        assert_eq!(vars["Y"], "A\"");
    }

    #[test]
    fn later_lines_and_files_win_and_empty_resets() {
        let vars = env(&[
            "[Service]\nEnvironment=A=1 B=1\n",
            "[Service]\nEnvironment=A=2\n# Environment=A=3\n",
            "[Unit]\nEnvironment=B=9\n",
        ]);
        assert_eq!((vars["A"].as_str(), vars["B"].as_str()), ("2", "1"));
        let reset = env(&["[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=C=3\n"]);
        assert_eq!(reset.keys().collect::<Vec<_>>(), ["C"]);
    }

    #[test]
    fn continuation_lines_join() {
        let vars = env(&["[Service]\nEnvironment=A=1 \\\n  B=2\n"]);
        assert_eq!((vars["A"].as_str(), vars["B"].as_str()), ("1", "2"));
    }

    #[test]
    fn systemctl_show_escapes_read_back() {
        let mut vars = BTreeMap::new();
        // systemctl show writes a space inside a value as \x20.
        apply_words(r"LD_PRELOAD=/a.so\x20/b.so GODEBUG=x=1 C=\ c", &mut vars);
        assert_eq!(vars["LD_PRELOAD"], "/a.so /b.so");
        assert_eq!(vars["GODEBUG"], "x=1");
        assert_eq!(vars["C"], " c");
    }

    #[test]
    fn exec_start_lines_as_systemd_applies_them() {
        let files = [
            "[Service]\nExecStart=/usr/bin/old --flag\n".to_string(),
            "[Service]\nExecStart=\nExecStart=-@/usr/bin/new new \\\n  --x\n[Install]\nExecStart=/no\n"
                .to_string(),
        ];
        let commands = exec_starts(&files);
        assert_eq!(commands, ["-@/usr/bin/new new    --x"]);
        assert_eq!(
            exec_program(&commands[0]),
            ("-@", "/usr/bin/new".to_string())
        );
        assert_eq!(
            exec_program("\"/opt/my prog\" a"),
            ("", "/opt/my prog".to_string())
        );
        assert_eq!(exec_program("!!true"), ("!!", "true".to_string()));
        assert_eq!(exec_starts(&files[..1]), ["/usr/bin/old --flag"]);
    }

    #[test]
    fn quoted_values_round_trip() {
        for value in ["/a.so /b.so:/c.so", r#"we"ird\50%"#] {
            let line = format!("[Service]\nEnvironment=\"V={}\"\n", quote_value(value));
            let vars = env(&[&line]);
            assert_eq!(vars["V"], value);
        }
    }
}
