//! THE redaction of secrets, for everything actsim writes where others may read it: the
//! support bundle, setup's and uninstall's JSON diffs, run logs.
//!
//! [`redact`] replaces with `***`:
//! - the value of a key that looks secret ([`is_secret_key`]) in `KEY=…`, `KEY: …`,
//!   `"KEY": …`, `export KEY=…`, `--env KEY=…` lines;
//! - the value of every actrc `-s`/`--secret` argument (`-s NAME=value`; a bare `-s NAME`
//!   reads the environment and has nothing to hide) and every `--secret-file` path;
//! - `Authorization:` header values and `Bearer …` tokens anywhere;
//! - GitHub token shapes (`ghp_…`, `github_pat_…`) anywhere;
//! - the user-info part of URLs (`https://user:pw@host` → `https://***@host`).
//!
//! Over-redacting is safe; under-redacting is the bug. What can go wrong: nothing (pure).

/// Words that make a key secret-looking when a word of the key contains them
/// (`DB_PASS`, `NPM_AUTH`, `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `SSL_CERT_…`).
const SECRET_WORDS: [&str; 10] = [
    "TOKEN", "SECRET", "PASS", "PWD", "AUTH", "CRED", "KEY", "WEBHOOK", "PRIVATE", "CERT",
];
/// Words that make a key secret-looking when a word of the key is exactly them (`MY_PAT`,
/// but not `PATH`).
const SECRET_EXACT: [&str; 1] = ["PAT"];
/// Prefixes of GitHub tokens, redacted wherever they appear.
const TOKEN_PREFIXES: [&str; 6] = ["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"];
/// act's options whose next argument (or `=value`) is a secret.
const SECRET_OPTIONS: [&str; 3] = ["-s", "--secret", "--secret-file"];

/// Whether a key (an environment variable, a YAML key, a header name) looks secret.
pub fn is_secret_key(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| SECRET_WORDS.iter().any(|s| w.contains(s)) || SECRET_EXACT.contains(&w))
}

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The value of a secret act option on this line (`-s NAME=v`, `--secret=NAME=v`,
/// `--secret-file PATH`), replaced.
fn redact_option(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    for opt in SECRET_OPTIONS {
        let Some(rest) = trimmed.strip_prefix(opt) else {
            continue;
        };
        let (sep, arg) = match rest.chars().next() {
            Some('=') => ("=", &rest[1..]),
            Some(' ' | '\t') => (" ", rest.trim_start()),
            _ => continue,
        };
        let arg = arg.trim_end();
        if opt == "--secret-file" {
            return Some(format!("{indent}{opt}{sep}***"));
        }
        return Some(match arg.split_once('=') {
            Some((name, _)) => format!("{indent}{opt}{sep}{name}=***"),
            None => line.to_string(),
        });
    }
    None
}

/// One line with the value of a secret-looking key replaced: `KEY=…`, `KEY: …`,
/// `-s KEY=…`, `"KEY": …`. Everything after the separator goes.
fn redact_line(line: &str) -> String {
    if let Some(done) = redact_option(line) {
        return done;
    }
    // The same line in a unified diff (`+-s NAME=value`).
    if let Some(marker @ ('+' | '-' | ' ')) = line.chars().next()
        && let Some(done) = redact_option(&line[1..])
    {
        return format!("{marker}{done}");
    }
    for (i, c) in line.char_indices() {
        if c != '=' && c != ':' {
            continue;
        }
        // `:` separates only when followed by a space or the end (not `image:tag`, `a://`).
        if c == ':' && !matches!(line[i + 1..].chars().next(), None | Some(' ' | '\t')) {
            continue;
        }
        let before = line[..i].trim_end().trim_end_matches(['"', '\'']);
        let start = before
            .char_indices()
            .rev()
            .find(|(_, ch)| !key_char(*ch))
            .map_or(0, |(j, ch)| j + ch.len_utf8());
        let key = &before[start..];
        if !key.is_empty() && is_secret_key(key) {
            let value = line[i + 1..].trim();
            if value.is_empty() {
                return line.to_string();
            }
            let sep = if c == ':' { ": " } else { "=" };
            return format!("{}{sep}***", &line[..i]);
        }
    }
    line.to_string()
}

/// Token shapes, `Bearer` tokens and URL user info, anywhere in `text`.
pub fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for prefix in TOKEN_PREFIXES {
            if rest.starts_with(prefix) {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                out.push_str("***");
                rest = &rest[len..];
                continue 'outer;
            }
        }
        if rest.len() >= 7 && rest.as_bytes()[..7].eq_ignore_ascii_case(b"bearer ") {
            let after = rest[7..].trim_start_matches(' ');
            let len = after
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(after.len());
            if len > 0 {
                out.push_str(&rest[..6]);
                out.push_str(" ***");
                rest = &after[len..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("://") {
            let end = after
                .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(after.len());
            if let Some(at) = after[..end].rfind('@') {
                out.push_str("://***@");
                rest = &after[at + 1..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// THE redaction: a text (actrc, compose file, `.env`, a diff, a log) with every secret
/// replaced by `***`. Line ends are kept.
pub fn redact(text: &str) -> String {
    let lines: Vec<String> = text.split('\n').map(redact_line).collect();
    redact_tokens(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_lose_their_values() {
        let env = "DOCKER_GID=105\nGITHUB_TOKEN=abc123\nexport MY_SECRET=\"x y\"\napi_key=1\nDB_PASSWORD = p\nPLATFORM_IMAGE=img:1\n";
        assert_eq!(
            redact(env),
            "DOCKER_GID=105\nGITHUB_TOKEN=***\nexport MY_SECRET=***\napi_key=***\nDB_PASSWORD =***\nPLATFORM_IMAGE=img:1\n"
        );
        let env = "DB_PASS=a\nNPM_AUTH=b\nGH_PAT=c\nMY_PWD=d\nAWS_CREDS=e\nSLACK_WEBHOOK=f\nPRIVATE_X=g\nTLS_CERT=h\nPATH=/bin\nHOST_UID=1000\n";
        assert_eq!(
            redact(env),
            "DB_PASS=***\nNPM_AUTH=***\nGH_PAT=***\nMY_PWD=***\nAWS_CREDS=***\nSLACK_WEBHOOK=***\nPRIVATE_X=***\nTLS_CERT=***\nPATH=/bin\nHOST_UID=1000\n"
        );
        let yaml = "services:\n  x:\n    image: actsim/act:0.2.89\n    environment:\n      GITHUB_TOKEN: abc\n      - AWS_SECRET_ACCESS_KEY=q\n      \"API_KEY\": \"v\"\n    user: \"1000:105\"\n";
        assert_eq!(
            redact(yaml),
            "services:\n  x:\n    image: actsim/act:0.2.89\n    environment:\n      GITHUB_TOKEN: ***\n      - AWS_SECRET_ACCESS_KEY=***\n      \"API_KEY\": ***\n    user: \"1000:105\"\n"
        );
    }

    #[test]
    fn every_act_secret_argument_loses_its_value() {
        let actrc = "-P ubuntu-latest=catthehacker/ubuntu:act-latest\n-s DEPLOY=abc\n--secret NPM=zzz\n--secret=X=y\n-s FROM_ENV\n--secret-file /home/u/.secrets\n--env CREDS=u:p\n--env FOO=bar\n";
        assert_eq!(
            redact(actrc),
            "-P ubuntu-latest=catthehacker/ubuntu:act-latest\n-s DEPLOY=***\n--secret NPM=***\n--secret=X=***\n-s FROM_ENV\n--secret-file ***\n--env CREDS=***\n--env FOO=bar\n"
        );
    }

    #[test]
    fn any_text_is_safe_to_redact() {
        // Multi-byte characters where a prefix test looks (a panic here once).
        let t = "h\u{e9}llo \u{4e2d}\u{6587}\u{fffd}x é=1 ü: z";
        assert_eq!(redact(t), t);
        assert_eq!(
            redact("ab\u{fffd}\u{fffd}\u{fffd}"),
            "ab\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn diffs_are_redacted_line_by_line() {
        let diff = "--- a\n+++ b\n+-s DEPLOY=abc\n--s OLD=x\n DB_PASS=y\n+A=1\n";
        assert_eq!(
            redact(diff),
            "--- a\n+++ b\n+-s DEPLOY=***\n--s OLD=***\n DB_PASS=***\n+A=1\n"
        );
    }

    #[test]
    fn headers_token_shapes_and_url_user_info_go_anywhere() {
        let t =
            "use ghp_AbC123xyz and github_pat_11AA_bb now; https://u:pw@mirror.example/x http://h/";
        assert_eq!(
            redact(t),
            "use *** and *** now; https://***@mirror.example/x http://h/"
        );
        assert_eq!(
            redact("> Authorization: token abc\ncurl -H 'X: Bearer eyJhbGc.x' h"),
            "> Authorization: ***\ncurl -H 'X: Bearer ***' h"
        );
    }
}
