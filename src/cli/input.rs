//! What commands read besides their flags: files, standard input, secrets kept in files.

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use super::api::Failure;
use crate::domain::secret::SecretString;

/// More than any request clientd accepts.
const LIMIT: u64 = 8 * 1024 * 1024;

fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

fn name_of(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// A file's bytes, or standard input's for '-'.
pub fn bytes(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let read = if is_stdin(path) {
        std::io::stdin().take(LIMIT + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(LIMIT + 1).read_to_end(&mut bytes))
    };
    match read {
        Err(error) => Err(Failure::Usage(format!(
            "cannot read {}: {error}",
            name_of(path)
        ))),
        Ok(_) if bytes.len() as u64 > LIMIT => Err(Failure::Usage(format!(
            "{} is larger than 8 MiB",
            name_of(path)
        ))),
        Ok(_) => Ok(bytes),
    }
}

pub fn text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(bytes(path)?)
        .map_err(|_| Failure::Usage(format!("{} is not UTF-8 text", name_of(path))))
}

/// A secret in a file, or piped in for '-': its first line. A secret typed at a terminal
/// would be echoed, so standard input must be a pipe.
pub fn secret(path: &Path) -> Result<SecretString, Failure> {
    let line = if is_stdin(path) {
        if std::io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "pipe the secret in (printf %s \"$SECRET\" | clientd ...) or name a file \
                 holding it"
                    .to_owned(),
            ));
        }
        let mut line = String::new();
        let read = std::io::stdin().lock().take(64 * 1024).read_line(&mut line);
        read.map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
        line
    } else {
        text(path)?.lines().next().unwrap_or("").to_owned()
    };
    let line = line.trim();
    if line.is_empty() {
        return Err(Failure::Usage(format!(
            "{} holds no secret: its first line is empty",
            name_of(path)
        )));
    }
    Ok(SecretString::new(line.to_owned()))
}
