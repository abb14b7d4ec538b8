//! `clientd events`: which events to list.

use clap::Args;

use super::Paging;

#[derive(Debug, Args)]
#[command(next_help_heading = "Which events")]
pub struct EventsQuery {
    /// Only this client's events (its credentials' and rotations' too), also once deleted.
    #[arg(long, value_name = "ID", conflicts_with = "tenant")]
    pub client: Option<String>,
    /// Only this tenant's events.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Only this action, e.g. client.patch or secret.rotate.complete.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this kind of resource: tenant, client, credential, secret, token.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// Only changes made with this token (its id).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Print the trail oldest first, then every new event as it happens, until stopped
    /// (JSON output: one event per line). --cursor resumes where a follower stopped.
    #[arg(long, conflicts_with = "all")]
    pub follow: bool,
    #[command(flatten)]
    pub paging: Paging,
}
