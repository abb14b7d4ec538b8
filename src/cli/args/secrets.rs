//! `clientd secrets <verb>`.

use std::path::PathBuf;

use clap::Subcommand;

use super::secret;
use crate::domain::client::secret_policy::MAX_SECONDS;
use crate::domain::secret::SecretString;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Show the current (and next) secret's last four characters, creation and last use.
    Status {
        /// The client's id.
        client_id: String,
    },
    /// Start a rotation: prints the next secret once; from now on both secrets verify.
    RotateStart {
        /// The client's id.
        client_id: String,
        #[arg(long, value_name = "KEY")]
        /// Send an Idempotency-Key, so a retry cannot start twice.
        idempotency_key: Option<String>,
    },
    /// Complete a rotation: the next secret becomes the only one.
    Rotate {
        /// The client's id.
        client_id: String,
    },
    /// Cancel a rotation: the next secret stops verifying.
    RotateCancel {
        /// The client's id.
        client_id: String,
    },
    /// Set the client's secret policy (the rotation autopilot's rules): each flag a
    /// duration like 90d, 12h, 30m, 45s (or plain seconds), or none to clear it; flags left
    /// out stay as they are. Prints the client.
    Policy {
        /// The client's id.
        client_id: String,
        /// A current secret older than this is stale (one secret.stale event; the filter
        /// secretStale eq true finds it).
        #[arg(long, value_name = "DURATION", value_parser = policy_duration)]
        max_age: Option<PolicyDuration>,
        /// Complete a rotation by itself once the next secret was used and the old one has
        /// been idle this long.
        #[arg(long, value_name = "DURATION", value_parser = policy_duration)]
        auto_complete_after: Option<PolicyDuration>,
        /// A rotation still under way after this long is overdue (one event).
        #[arg(long, value_name = "DURATION", value_parser = policy_duration)]
        rotation_max: Option<PolicyDuration>,
    },
    /// Check a presented secret, piped in on standard input (or --secret-file, --secret):
    /// exit 0 and print which secret it is when it verifies, exit 1 when it does not.
    Verify {
        /// The client's id.
        client_id: String,
        /// A file holding the secret (its first line) instead of standard input.
        #[arg(long, value_name = "PATH")]
        secret_file: Option<PathBuf>,
        /// The secret itself. Prefer standard input or --secret-file: other users of this
        /// machine can read a command line.
        #[arg(long, conflicts_with = "secret_file", value_parser = secret)]
        secret: Option<SecretString>,
    },
}

/// A policy duration in seconds, or None for `none` (the member cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyDuration(pub Option<i64>);

/// `90d`, `12h`, `30m`, `45s` or plain seconds; `none` clears.
fn policy_duration(text: &str) -> Result<PolicyDuration, String> {
    if text == "none" {
        return Ok(PolicyDuration(None));
    }
    let usage = || format!("{text:?}: write a duration like 90d, 12h, 30m or 45s, or none");
    let (digits, unit) = match text.char_indices().last() {
        Some((at, unit @ ('d' | 'h' | 'm' | 's'))) => (&text[..at], unit),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage());
    }
    let count: i64 = digits.parse().map_err(|_| usage())?;
    let per = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        _ => 1,
    };
    match count.checked_mul(per) {
        Some(seconds) if (1..=MAX_SECONDS).contains(&seconds) => Ok(PolicyDuration(Some(seconds))),
        _ => Err(format!(
            "{text:?}: a policy duration is from 1s to 3650d (ten years)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(policy_duration("90d"), Ok(PolicyDuration(Some(7_776_000))));
        assert_eq!(policy_duration("12h"), Ok(PolicyDuration(Some(43_200))));
        assert_eq!(policy_duration("30m"), Ok(PolicyDuration(Some(1_800))));
        assert_eq!(policy_duration("45s"), Ok(PolicyDuration(Some(45))));
        assert_eq!(policy_duration("45"), Ok(PolicyDuration(Some(45))));
        assert_eq!(policy_duration("none"), Ok(PolicyDuration(None)));
        for bad in [
            "",
            "d",
            "-1d",
            "1.5h",
            "0s",
            "3651d",
            "1w",
            "99999999999999999999d",
        ] {
            assert!(policy_duration(bad).is_err(), "{bad}");
        }
    }
}
