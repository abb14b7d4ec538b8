"""A client's life, told through the Python client that openapi-python-client generates from
openapi.yaml (scripts/sdk generates it and runs this against a live clientd). Nothing here
speaks HTTP itself: every call goes through the generated AuthenticatedClient, its api
modules and its typed models, so a spec the generator misreads fails here.

Works with both of the generator's enum styles: the default (enum classes) and
`literal_enums: true` (plain strings, checked by the generated check_* functions).

Environment: CLIENTD_URL (the server), CLIENTD_TOKEN (an admin token, the bootstrap one).
Exits 1, naming the step, on the first thing that is not as the spec says.
"""

import datetime
import enum
import importlib
import os
import re
import sys
import uuid
from typing import Any

from clientd_client import AuthenticatedClient, errors
from clientd_client import models as m
from clientd_client.api.clients import (
    create_client,
    delete_client,
    get_client,
    list_clients,
    patch_client,
)
from clientd_client.api.events import list_client_events
from clientd_client.api.operations import healthz
from clientd_client.api.secrets import (
    complete_secret_rotation,
    get_secret_telemetry,
    start_secret_rotation,
    verify_secret,
)
from clientd_client.api.tenants import create_tenant, delete_tenant, get_tenant
from clientd_client.api.tokens import create_token, revoke_token
from clientd_client.types import UNSET, Response

LITERAL_ENUMS = not isinstance(m.AppType, type)


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def value(name, text):
    """`text` as the generated client wants a value of enum schema `name`: a member of the
    enum class by default, the string itself (checked by check_<name>) with literal_enums."""
    kind = getattr(m, name)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(text)
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    module = importlib.import_module(f"clientd_client.models.{snake}")
    return getattr(module, f"check_{snake}")(text)


def expect(response, status, kind):
    """The parsed body of `response`, which must have `status` and parse as `kind`."""
    body = response.content.decode(errors="replace")[:2000]
    check(
        response.status_code == status,
        f"status {response.status_code}, expected {status}: {body}",
    )
    check(
        isinstance(response.parsed, kind),
        f"the body parsed as {type(response.parsed).__name__}, expected {kind.__name__}: {body}",
    )
    return response.parsed


def header(response, name):
    return response.headers.get(name)


def problem(response, status, kind):
    """A problem answer of `status` whose type is urn:clientd:problem:`kind`."""
    answer = expect(response, status, m.Problem)
    check(
        answer.type_ == f"urn:clientd:problem:{kind}",
        f"problem type {answer.type_!r}, expected {kind}",
    )
    check(answer.status == status, f"problem status {answer.status}, expected {status}")
    return answer


def aware(stamp):
    return isinstance(stamp, datetime.datetime) and stamp.tzinfo is not None


def flow(url, token, steps):
    """Every step, named in `steps` as it starts."""
    response: Response[Any]
    admin = AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)

    def step(name):
        steps.append(name)
        print(f"  - {name}", flush=True)

    try:
        step("healthz")
        status = expect(healthz.sync_detailed(client=admin), 200, m.Status)
        check(status.status == "ok", f"healthz said {status.status!r}")

        step("create a tenant")
        tenant_id = "sdk-flow"
        tenant = expect(
            create_tenant.sync_detailed(
                client=admin, body=m.TenantCreate(id=tenant_id, name="SDK flow")
            ),
            201,
            m.Tenant,
        )
        check(tenant.id == tenant_id and aware(tenant.created), f"tenant {tenant.to_dict()}")

        step("create a token, permission by SailPoint's alias")
        issued = expect(
            create_token.sync_detailed(
                client=admin,
                body=m.TokenCreate(
                    name="sdk flow",
                    permissions=[value("SailPointPermission", "sp:oauth-client:manage")],
                ),
            ),
            201,
            m.IssuedToken,
        )
        check(
            list(issued.permissions) == ["client.write.all"],
            f"sp:oauth-client:manage was stored as {issued.permissions}",
        )
        check(
            isinstance(issued.token, str) and issued.token.startswith("cdt_"),
            "no token text",
        )
        api = AuthenticatedClient(base_url=url, token=issued.token, raise_on_unexpected_status=True)

        step("create a CONFIDENTIAL client with RFC grant types")
        key = str(uuid.uuid4())
        body = m.ClientCreate(
            name="SDK portal",
            app_type=value("AppType", "regular_web"),
            description="made by scripts/sdk",
            callbacks=["https://portal.sdk.example/callback"],
            grant_types=[
                value("GrantType", "authorization_code"),
                value("GrantType", "refresh_token"),
            ],
            client_metadata=m.ClientMetadata(
                owners="alice@sdk.example, bob@sdk.example", product_name="Portal"
            ),
            trusted_metadata=m.TrustedMetadata.from_dict({"team": "sdk", "tier": 2}),
            scope=["openid", "profile"],
        )
        response = create_client.sync_detailed(
            tenant_id, client=api, body=body, idempotency_key=key
        )
        created = expect(response, 201, m.CreatedClient)
        secret = created.secret
        check(isinstance(secret, str) and len(secret) >= 40, f"secret {secret!r}")
        check(created.type_ == "CONFIDENTIAL", f"type {created.type_!r}")
        check(
            list(created.grant_types) == ["authorization_code", "refresh_token"],
            f"grantTypes {created.grant_types}",
        )
        check(created.mobile in (None, UNSET), f"mobile {created.mobile!r}")
        check(header(response, "etag"), "no ETag")
        check(header(response, "cache-control") == "no-store", "no Cache-Control: no-store")
        client_id = created.id

        step("the same create, replayed by its Idempotency-Key")
        response = create_client.sync_detailed(
            tenant_id, client=api, body=body, idempotency_key=key
        )
        replayed = expect(response, 201, m.CreatedClient)
        check(header(response, "idempotent-replayed") == "true", "no Idempotent-Replayed")
        check(replayed.id == client_id, f"the replay made {replayed.id}")
        check(replayed.secret is UNSET, "the replay shows the secret again")
        check(replayed.secret_shown is False, f"secret_shown {replayed.secret_shown!r}")

        step("create a CONFIDENTIAL client with SailPoint's grant type aliases and a mobile")
        aliased = expect(
            create_client.sync_detailed(
                tenant_id,
                client=api,
                body=m.ClientCreate(
                    name="SDK alias portal",
                    app_type=value("AppType", "regular_web"),
                    callbacks=["https://alias.sdk.example/callback"],
                    grant_types=[
                        value("SailPointGrantType", "AUTHORIZATION_CODE"),
                        value("SailPointGrantType", "CLIENT_CREDENTIALS"),
                    ],
                    mobile=m.Mobile(
                        ios=m.MobileIos(
                            team_id="9JA89QQLNQ", app_bundle_identifier="com.sdk.portal"
                        ),
                        android=m.MobileAndroid(
                            keystore_hash="AB:CD:EF", app_package_name="com.sdk.portal"
                        ),
                    ),
                ),
            ),
            201,
            m.CreatedClient,
        )
        check(
            list(aliased.grant_types) == ["authorization_code", "client_credentials"],
            f"the aliases were stored as {aliased.grant_types}",
        )
        check(isinstance(aliased.secret, str), "no secret for the second client")

        step("read the first client")
        response = get_client.sync_detailed(client_id, client=api)
        document = expect(response, 200, m.ClientDocument)
        etag = header(response, "etag")
        check(etag, "no ETag")
        check(document.id == client_id and document.tenant == tenant_id, "id or tenant")
        check(document.name == "SDK portal", f"name {document.name!r}")
        check(
            document.description == "made by scripts/sdk", f"description {document.description!r}"
        )
        check(document.app_type == "regular_web", f"appType {document.app_type!r}")
        check(document.type_ == "CONFIDENTIAL", f"type {document.type_!r}")
        check(document.client_auth_method == "client_secret_basic", "clientAuthMethod")
        if not LITERAL_ENUMS:
            check(
                all(isinstance(g, m.GrantType) for g in document.grant_types),
                f"grantTypes did not parse as GrantType: {document.grant_types!r}",
            )
        check(
            list(document.grant_types) == ["authorization_code", "refresh_token"],
            f"grantTypes {document.grant_types}",
        )
        check(
            document.redirect_uris == ["https://portal.sdk.example/callback"]
            and document.callback_urls == document.redirect_uris,
            "redirectUris and callbackUrls",
        )
        check(
            document.owners == ["alice@sdk.example", "bob@sdk.example"],
            f"owners {document.owners}",
        )
        check(document.product_name == "Portal", f"productName {document.product_name!r}")
        check(document.scope == ["openid", "profile"], f"scope {document.scope}")
        check(document.access_type == "OFFLINE", f"accessType {document.access_type!r}")
        check(
            isinstance(document.trusted_metadata, m.TrustedMetadata)
            and document.trusted_metadata.to_dict() == {"team": "sdk", "tier": 2},
            f"trustedMetadata {document.trusted_metadata!r}",
        )
        check(document.mobile in (None, UNSET), f"mobile {document.mobile!r}")
        check(document.enabled is True and document.internal is False, "enabled, internal")
        check(aware(document.created) and aware(document.modified), "created, modified")
        check(document.last_used in (None, UNSET), f"lastUsed {document.last_used!r}")

        step("read the second client, its mobile parsed")
        other = expect(get_client.sync_detailed(aliased.id, client=api), 200, m.ClientDocument)
        check(isinstance(other.mobile, m.Mobile), f"mobile did not parse: {other.mobile!r}")
        check(
            isinstance(other.mobile.ios, m.MobileIos)
            and other.mobile.ios.team_id == "9JA89QQLNQ"
            and isinstance(other.mobile.android, m.MobileAndroid)
            and other.mobile.android.app_package_name == "com.sdk.portal",
            f"mobile {other.mobile.to_dict()}",
        )

        step("list the tenant's clients")
        response = list_clients.sync_detailed(
            tenant_id, client=api, sorters=value("ClientSorter", "name"), count=True
        )
        page = expect(response, 200, m.ClientPage)
        check(
            [c.id for c in page.items] == [aliased.id, client_id],
            f"listed {[c.id for c in page.items]}",
        )
        check(page.next_cursor is None, f"next_cursor {page.next_cursor!r}")
        check(header(response, "x-total-count") == "2", "X-Total-Count")
        page = expect(
            list_clients.sync_detailed(
                tenant_id, client=api, filters='grantTypes co "CLIENT_CREDENTIALS"'
            ),
            200,
            m.ClientPage,
        )
        check([c.id for c in page.items] == [aliased.id], "the grantTypes filter")

        step("patch the first client with a JSON Patch")
        patch: list[m.PatchAddOrReplace | m.PatchMoveOrCopy | m.PatchRemove | m.PatchTest] = [
            m.PatchTest(op=value("PatchTestOp", "test"), path="/name", value="SDK portal"),
            m.PatchAddOrReplace(
                op=value("PatchAddOrReplaceOp", "replace"),
                path="/name",
                value="SDK portal, renamed",
            ),
            m.PatchAddOrReplace(
                op=value("PatchAddOrReplaceOp", "add"),
                path="/grantTypes/-",
                value="CLIENT_CREDENTIALS",
            ),
        ]
        response = patch_client.sync_detailed(client_id, client=api, body=patch, if_match=etag)
        patched = expect(response, 200, m.ClientDocument)
        check(patched.name == "SDK portal, renamed", f"name {patched.name!r}")
        check(
            list(patched.grant_types)
            == ["authorization_code", "refresh_token", "client_credentials"],
            f"grantTypes {patched.grant_types}",
        )
        check(header(response, "etag") not in (None, etag), "the ETag did not change")
        check(patched.modified >= document.modified, "modified went back")

        step("the same patch on the old ETag is 412")
        problem(
            patch_client.sync_detailed(client_id, client=api, body=patch, if_match=etag),
            412,
            "precondition-failed",
        )

        step("the patch is in the client's audit trail")
        events = expect(
            list_client_events.sync_detailed(
                client_id, client=api, action=value("EventAction", "client.patch")
            ),
            200,
            m.EventPage,
        )
        check(len(events.items) == 1, f"{len(events.items)} client.patch events")
        event = events.items[0]
        check(event.resource_id == client_id, f"resource_id {event.resource_id!r}")
        check(
            isinstance(event.patch, list) and len(event.patch) == 3,
            f"patch {event.patch!r}",
        )
        check(
            isinstance(event.changed, list) and "name" in event.changed,
            f"changed {event.changed!r}",
        )
        check(event.actor.token_id == issued.id, f"actor {event.actor.to_dict()}")

        step("start a secret rotation")
        response = start_secret_rotation.sync_detailed(client_id, client=api)
        rotation = expect(response, 200, m.M2MClientWithNextClientSecret)
        next_secret = rotation.next_client_secret
        check(isinstance(next_secret, str) and next_secret != secret, "no next secret")
        check(rotation.client_id == client_id, f"client_id {rotation.client_id!r}")
        check(rotation.client_secret_last_four == secret[-4:], "client_secret_last_four")
        check(rotation.next_client_secret_last_four == next_secret[-4:], "next last four")
        check(rotation.status == "active", f"status {rotation.status!r}")
        check(header(response, "cache-control") == "no-store", "no Cache-Control: no-store")

        step("verify the current and the next secret")
        for text, which in [(secret, "current"), (next_secret, "next")]:
            verified = expect(
                verify_secret.sync_detailed(
                    client_id, client=api, body=m.SecretVerification(client_secret=text)
                ),
                200,
                m.VerifiedSecret,
            )
            check(verified.valid is True, f"valid {verified.valid!r}")
            check(verified.secret == which, f"secret {verified.secret!r}, expected {which}")
        telemetry = expect(
            get_secret_telemetry.sync_detailed(client_id, client=api), 200, m.SecretTelemetry
        )
        check(
            isinstance(telemetry.current, m.SecretUse) and isinstance(telemetry.next_, m.SecretUse),
            f"telemetry {telemetry.to_dict()}",
        )
        check(telemetry.next_.last_four == next_secret[-4:], "telemetry's next last four")

        step("complete the rotation")
        completed = expect(
            complete_secret_rotation.sync_detailed(client_id, client=api),
            200,
            m.M2MClientWithNextClientSecret,
        )
        check(completed.next_client_secret is UNSET, "complete shows a secret")
        check(completed.next_client_secret_last_four is None, "still rotating")
        check(
            completed.client_secret_last_four == next_secret[-4:], "the next did not become current"
        )

        step("the old secret no longer verifies, the new one does")
        problem(
            verify_secret.sync_detailed(
                client_id, client=api, body=m.SecretVerification(client_secret=secret)
            ),
            401,
            "invalid-client-secret",
        )
        verified = expect(
            verify_secret.sync_detailed(
                client_id, client=api, body=m.SecretVerification(client_secret=next_secret)
            ),
            200,
            m.VerifiedSecret,
        )
        check(verified.secret == "current", f"secret {verified.secret!r}")

        step("delete the clients")
        for gone in [client_id, aliased.id]:
            response = delete_client.sync_detailed(gone, client=api)
            check(response.status_code == 204, f"delete {gone}: {response.status_code}")
        problem(get_client.sync_detailed(client_id, client=api), 404, "not-found")

        step("revoke the token")
        response = revoke_token.sync_detailed(issued.id, client=admin)
        check(response.status_code == 204, f"revoke: {response.status_code}")
        problem(get_tenant.sync_detailed(tenant_id, client=api), 401, "unauthorized")

        step("delete the tenant")
        response = delete_tenant.sync_detailed(tenant_id, client=admin)
        check(response.status_code == 204, f"delete tenant: {response.status_code}")
    except errors.UnexpectedStatus as e:
        raise Failure(
            f"undocumented status {e.status_code}: {e.content.decode(errors='replace')[:2000]}"
        ) from e
    except Failure:
        raise
    except Exception as e:
        # A generated model that cannot read what the server sent, or cannot write a request.
        raise Failure(f"{type(e).__name__}: {e}") from e


def main():
    url = os.environ["CLIENTD_URL"]
    token = os.environ["CLIENTD_TOKEN"]
    style = "literal_enums" if LITERAL_ENUMS else "enum classes"
    print(f"generated client ({style}) against {url}", flush=True)
    steps: list[str] = []
    try:
        flow(url, token, steps)
    except Failure as e:
        last = steps[-1] if steps else "the start"
        print(f"scripts/sdk.py: FAILED at {last!r}: {e}", file=sys.stderr)
        return 1
    print("the generated client did every step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
