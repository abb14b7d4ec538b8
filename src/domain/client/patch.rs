//! RFC 6902 JSON Patch on the canonical client document, with SailPoint's semantics: only the
//! patchable fields may change, and the result must keep every rule.

use json_patch::jsonptr::Pointer;
use json_patch::{PatchErrorKind, PatchOperation};
use serde_json::Value;

use super::rules::MAX_DOCUMENT_BYTES;
use super::{Client, ClientSettings};
use crate::domain::json::{fit, json_size, misfit, without_negative_zero};
use crate::domain::refusal::Refusal;
use crate::domain::tenant::TenantId;
use crate::domain::text::check_json;
use crate::domain::{Invalid, Violations};

/// The top-level fields a patch may change (`tenant` moves the client).
pub const PATCHABLE: [&str; 36] = [
    "tenant",
    "name",
    "description",
    "businessName",
    "homepageUrl",
    "clientAuthMethod",
    "grantTypes",
    "redirectUris",
    "allowedLogoutUrls",
    "allowedWebOrigins",
    "allowedCorsOrigins",
    "logoUrl",
    "initiateLoginUri",
    "mobile",
    "owners",
    "productName",
    "applicationName",
    "client_upn_key",
    "accessTokenValiditySeconds",
    "refreshTokenValiditySeconds",
    "idTokenExpiration",
    "refreshTokenReuseInterval",
    "refreshTokenAbsoluteLifetime",
    "refreshTokenInactivityLifetime",
    "isRefreshTokenRotationEnabled",
    "isRefreshTokenAbsoluteExpirationEnabled",
    "isRefreshTokenInactivityLifetimeEnabled",
    "allowCrossOriginAuthentication",
    "enabled",
    "strongAuthSupported",
    "claimsSupported",
    "accessType",
    "scope",
    "audiences",
    "trustedMetadata",
    "secretPolicy",
];

/// A patch longer than this is refused whole.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// Not a JSON Patch at all: the caller's request is malformed.
    #[error("{0}")]
    Malformed(String),
    #[error("operation {index}: {path} cannot be changed by a patch; the patchable fields are {}", PATCHABLE.join(", "))]
    ReadOnly { index: usize, path: String },
    #[error("operation {index}: the test of {path} failed: the client holds another value")]
    TestFailed { index: usize, path: String },
    #[error("operation {index}: {path} {reason}")]
    NotApplicable {
        index: usize,
        path: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// A patch refused under the lock, in the refusal's own terms (which name no patch type, so
/// the refusal module need not know this one): a patch that cannot be one is malformed, one
/// that does not fit what the client holds is a conflict.
impl From<PatchError> for Refusal {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::Malformed(_) | PatchError::ReadOnly { .. } => {
                Self::Malformed(error.to_string())
            }
            PatchError::TestFailed { .. } | PatchError::NotApplicable { .. } => {
                Self::Conflict(error.to_string())
            }
            PatchError::Invalid(invalid) => Self::Invalid(invalid),
        }
    }
}

/// A parsed patch whose every changing operation targets a patchable field.
#[derive(Debug, Clone)]
pub struct ClientPatch(Vec<PatchOperation>);

impl ClientPatch {
    pub fn parse(body: Value) -> Result<Self, PatchError> {
        let Value::Array(operations) = body else {
            return Err(PatchError::Malformed(
                "a JSON Patch is an array of operations, like [{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"New name\"}]".to_owned(),
            ));
        };
        if operations.len() > MAX_OPERATIONS {
            return Err(PatchError::Malformed(format!(
                "a patch may hold at most {MAX_OPERATIONS} operations; this one has {}",
                operations.len()
            )));
        }
        let operations = (operations.into_iter().enumerate())
            .map(|(index, operation)| {
                let operation: PatchOperation = serde_json::from_value(operation).map_err(|e| {
                    PatchError::Malformed(format!(
                        "operation {index} is not an RFC 6902 operation ({e}); each needs op (add, remove, replace, move, copy or test), a path that is a JSON Pointer, and value or from as its op requires"
                    ))
                })?;
                check_targets(index, &operation)?;
                check_text(index, &operation)?;
                Ok::<_, PatchError>(operation)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(operations))
    }

    /// The patch as applied, for the audit trail.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies the patch to `client`'s document, all or nothing, and reads the result back.
    ///
    /// The document is a copy, so a failure anywhere leaves the client untouched. Its size is
    /// tracked as each operation applies, and the patch stops as soon as the document would
    /// outgrow what clientd stores: `copy` can double a document each time, so a patch of a
    /// few hundred bytes could otherwise build gigabytes before any rule saw the result.
    pub fn apply(&self, client: &Client) -> Result<Client, PatchError> {
        let mut document = client.document_value();
        let mut size = json_size(&document) as i64;
        for (index, operation) in self.0.iter().enumerate() {
            refuse_copy_into_itself(index, operation)?;
            size += growth(&document, operation);
            if size > MAX_DOCUMENT_BYTES as i64 {
                return Err(Invalid::one(
                    operation.path().to_string(),
                    format!(
                        "operation {index} would make the client larger than {MAX_DOCUMENT_BYTES} bytes of JSON"
                    ),
                )
                .into());
            }
            apply_one(&mut document, operation, index)?;
        }
        let tenant = (document.get("tenant"))
            .and_then(Value::as_str)
            .ok_or_else(|| "must be a tenant id".to_owned())
            .and_then(TenantId::parse)
            .map_err(|message| Invalid::one("/tenant", message))?;
        let mut settings: ClientSettings =
            fit(document).map_err(|error| Invalid::from(misfit(&error)))?;
        settings.trusted_metadata = without_negative_zero(settings.trusted_metadata);
        settings.check(client.client_type())?;
        Ok(Client {
            tenant,
            settings,
            ..client.clone()
        })
    }
}

/// A `copy` or `move` whose target lies inside its source would nest the value in itself:
/// RFC 6902 forbids it for `move`, and for `copy` it is how a small patch doubles a document.
fn refuse_copy_into_itself(index: usize, operation: &PatchOperation) -> Result<(), PatchError> {
    let from = match operation {
        PatchOperation::Move(op) => &op.from,
        PatchOperation::Copy(op) => &op.from,
        _ => return Ok(()),
    };
    let into = operation.path();
    if into.starts_with(from) && into != from.as_ref() {
        return Err(PatchError::NotApplicable {
            index,
            path: into.to_string(),
            reason: "is inside the operation's from: a value cannot be copied or moved into itself",
        });
    }
    Ok(())
}

/// About how many bytes `operation` adds to `document` (negative when it shrinks it): the
/// value it brings (with its member name), less the one it replaces or removes. Each part
/// costs the size of a value the patch or the document already holds, never more.
fn growth(document: &Value, operation: &PatchOperation) -> i64 {
    let size = |value: &Value| json_size(value) as i64;
    let at = |pointer: &Pointer| pointer.resolve(document).map_or(0, size);
    let target = operation.path();
    let key = (target.last()).map_or(0, |token| token.encoded().len() as i64 + 4);
    // `add` and `copy` replace an object's member, but insert into an array.
    let displaced = match target.parent().map(|parent| parent.resolve(document)) {
        Some(Ok(Value::Array(_))) => 0,
        _ => at(target),
    };
    match operation {
        PatchOperation::Add(op) => key + size(&op.value) - displaced,
        PatchOperation::Replace(op) => size(&op.value) - at(target),
        PatchOperation::Copy(op) => key + at(&op.from) - displaced,
        PatchOperation::Remove(_) => -at(target),
        PatchOperation::Move(_) | PatchOperation::Test(_) => 0,
    }
}

/// Applies one operation, describing a failure by its place in the patch.
fn apply_one(
    document: &mut Value,
    operation: &PatchOperation,
    index: usize,
) -> Result<(), PatchError> {
    json_patch::patch_unsafe(document, std::slice::from_ref(operation)).map_err(|error| {
        let path = error.path.to_string();
        match error.kind {
            PatchErrorKind::TestFailed => PatchError::TestFailed { index, path },
            PatchErrorKind::InvalidFromPointer => PatchError::NotApplicable {
                index,
                path,
                reason: "takes from a location that does not exist in the client",
            },
            PatchErrorKind::CannotMoveInsideItself => PatchError::NotApplicable {
                index,
                path,
                reason: "would move a value inside itself",
            },
            _ => PatchError::NotApplicable {
                index,
                path,
                reason: "does not exist in the client",
            },
        }
    })
}

/// No NUL in a value, path or from: even one that a later operation takes away would reach
/// the audit trail, which keeps the patch as sent and, on Postgres, cannot hold it.
fn check_text(index: usize, operation: &PatchOperation) -> Result<(), PatchError> {
    let mut v = Violations::default();
    let (value, from) = match operation {
        PatchOperation::Add(op) => (Some(&op.value), None),
        PatchOperation::Replace(op) => (Some(&op.value), None),
        PatchOperation::Test(op) => (Some(&op.value), None),
        PatchOperation::Move(op) => (None, Some(&op.from)),
        PatchOperation::Copy(op) => (None, Some(&op.from)),
        PatchOperation::Remove(_) => (None, None),
    };
    if let Some(value) = value {
        check_json(&mut v, &format!("/{index}/value"), value);
    }
    for (member, pointer) in [
        ("path", Some(operation.path())),
        ("from", from.map(|f| f.as_ref())),
    ] {
        if pointer.is_some_and(|pointer| pointer.as_str().contains('\0')) {
            v.add(
                format!("/{index}/{member}"),
                "must not hold the NUL character (U+0000)",
            );
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(PatchError::Invalid(v.into_invalid()))
    }
}

/// Refuses operations that would change a read-only field: `test` may read anything, every
/// other operation may write (and `move`/`copy` read) only patchable fields.
fn check_targets(index: usize, operation: &PatchOperation) -> Result<(), PatchError> {
    let patchable = |pointer: &Pointer| {
        (pointer.first()).is_some_and(|field| PATCHABLE.contains(&field.decoded().as_ref()))
    };
    let read_only = |pointer: &Pointer| PatchError::ReadOnly {
        index,
        path: if pointer.is_root() {
            "the whole document".to_owned()
        } else {
            pointer.to_string()
        },
    };
    let from = match operation {
        PatchOperation::Test(_) => return Ok(()),
        PatchOperation::Move(op) => Some(&op.from),
        PatchOperation::Copy(op) => Some(&op.from),
        _ => None,
    };
    for pointer in from
        .into_iter()
        .map(|f| f.as_ref())
        .chain([operation.path()])
    {
        if !patchable(pointer) {
            return Err(read_only(pointer));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
