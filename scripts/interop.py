"""clientd's authorization server as a third party sees it (scripts/interop runs this against
a live clientd): access tokens fetched with authlib, a widely used OAuth client library, by
client_secret_basic, client_secret_post and private_key_jwt, each verified against the
published JWKS with PyJWT, an independent JWT library, then introspected (RFC 7662) and
revoked (RFC 7009) through authlib. Every endpoint is taken from the tenant's RFC 8414
metadata, found from the issuer as RFC 8414 3.1 says, as a real client would.

Nothing here reads clientd's code or its tokens by hand: authlib builds every OAuth request
(the admin calls that set the clients up are plain HTTP), PyJWT checks every signature and
claim, and `cryptography` makes the client's RSA key.

Environment: CLIENTD_URL (the server), CLIENTD_TOKEN (an admin token, the bootstrap one),
INTEROP_SIGNING_ALG (the server's CLIENTD_TOKEN_SIGNING_ALG: ES256, EdDSA or RS256).
Exits 1, naming the step, on the first thing that is not as the RFCs and DESIGN 15 say.
"""

import os
import sys
import time
import urllib.parse

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata, get_well_known_url
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

TENANT = "interop"
SCOPES = ["invoices:read", "invoices:write"]
AUDIENCE = "https://api.interop.example"
OTHER_AUDIENCE = "https://reports.interop.example"
TIMEOUT = 15
# RFC 9068's media type for JWT access tokens, in the typ header.
AT_JWT = "at+jwt"
# Members a JWK of a public key may not have: the private parts of RSA, EC and OKP keys.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def body(response):
    return response.content.decode(errors="replace")[:2000]


def expect(response, status):
    """The JSON body of `response`, which must have `status`."""
    check(
        response.status_code == status,
        f"{response.request.method} {response.url}: status {response.status_code}, "
        f"expected {status}: {body(response)}",
    )
    try:
        return response.json()
    except ValueError as e:
        raise Failure(f"{response.url}: not JSON: {body(response)}") from e


class IssuerAssertion(PrivateKeyJWT):
    """authlib's private_key_jwt, with two settings a client of a careful server needs.

    The audience is whatever authlib's `token_endpoint` argument names: given here as the
    issuer, which RFC 10070 makes the one audience (authlib's default, the URL the request
    goes to, is refused). And each assertion expires `lifetime` seconds after it is made:
    authlib signs for an hour unless `exp` comes in `claims`, and a `claims` dict given once
    would keep the first `exp` and, since authlib writes its `jti` into that dict, the first
    jti too; so the claims are made anew for every assertion. Signing is authlib's own."""

    def __init__(self, audience, kid, lifetime=300):
        super().__init__(token_endpoint=audience, headers={"kid": kid}, alg="RS256")
        self.lifetime = lifetime

    def sign(self, auth, token_endpoint):
        self.claims = {"exp": int(time.time()) + self.lifetime}
        return super().sign(auth, token_endpoint)


class Run:
    def __init__(self, url, token, alg, steps):
        self.url = url.rstrip("/")
        self.alg = alg
        self.steps = steps
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"Bearer {token}"
        self.issuer = f"{self.url}/tenants/{TENANT}"
        # The last token endpoint response authlib saw, by its compliance hook.
        self.last_token_response = None

    def step(self, name):
        self.steps.append(name)
        print(f"  - {name}", flush=True)

    # ---- set-up, through the admin API ----

    def create_client(self, name, method=None):
        document = {
            "name": name,
            "app_type": "non_interactive",
            "scope": SCOPES,
            "audiences": [AUDIENCE, OTHER_AUDIENCE],
        }
        if method:
            document["client_auth_method"] = method
        created = expect(
            self.admin.post(f"{self.url}/tenants/{TENANT}/clients", json=document, timeout=TIMEOUT),
            201,
        )
        check(isinstance(created.get("id"), str), f"no client id: {created}")
        check(isinstance(created.get("secret"), str), f"no secret: {created}")
        return created["id"], created["secret"]

    def client_document(self, client_id):
        return expect(self.admin.get(f"{self.url}/clients/{client_id}", timeout=TIMEOUT), 200)

    # ---- authlib sessions ----

    def session(self, client_id, secret, method):
        session = OAuth2Session(
            client_id,
            secret,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            default_timeout=TIMEOUT,
        )

        def keep(response):
            self.last_token_response = response
            return response

        session.register_compliance_hook("access_token_response", keep)
        return session

    def refused(self, session, status, error, **params):
        """A token request authlib makes that the server must refuse with `status` and the
        RFC 6749 `error`."""
        self.last_token_response = None
        try:
            token = session.fetch_token(
                self.token_endpoint, grant_type="client_credentials", **params
            )
        except OAuthError as e:
            response = self.last_token_response
            check(response is not None, "authlib saw no token response")
            check(
                response.status_code == status and e.error == error,
                f"refused with {response.status_code} {e.error!r}, "
                f"expected {status} {error!r}: {body(response)}",
            )
            check(
                isinstance(e.description, str) and e.description,
                f"no error_description: {body(response)}",
            )
            return e.description
        raise Failure(f"a token was issued: {token}")

    def fetch(self, session, **params):
        """A token by client_credentials through authlib, with the answer's form checked."""
        self.last_token_response = None
        try:
            token = session.fetch_token(
                self.token_endpoint, grant_type="client_credentials", **params
            )
        except OAuthError as e:
            response = self.last_token_response
            raise Failure(
                f"the token endpoint refused: {e.error}: {e.description} "
                f"({response.status_code if response is not None else 'no response'})"
            ) from e
        response = self.last_token_response
        check(response.status_code == 200, f"status {response.status_code}: {body(response)}")
        check(
            "no-store" in response.headers.get("Cache-Control", ""),
            f"the token response has Cache-Control {response.headers.get('Cache-Control')!r}",
        )
        check(token.get("token_type") == "Bearer", f"token_type {token.get('token_type')!r}")
        check(
            isinstance(token.get("expires_in"), int) and token["expires_in"] > 0,
            f"expires_in {token.get('expires_in')!r}",
        )
        check(isinstance(token.get("access_token"), str), f"no access_token: {token}")
        check("refresh_token" not in token, "client_credentials gave a refresh_token")
        return token

    # ---- verification with PyJWT, the keys from jwks_uri ----

    def verify(self, access_token, client_id, scope, audience, aud=None):
        """The token's claims, verified with PyJWT against the published JWKS for `audience`;
        its aud claim must be `aud`, by default `audience` alone."""
        try:
            key = self.jwks.get_signing_key_from_jwt(access_token)
            decoded = jwt.decode_complete(
                access_token,
                key,
                algorithms=[self.alg],
                audience=audience,
                issuer=self.issuer,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as e:
            raise Failure(f"PyJWT refused the access token: {type(e).__name__}: {e}") from e
        header, claims = decoded["header"], decoded["payload"]
        check(header.get("typ") == AT_JWT, f"header typ {header.get('typ')!r}, expected {AT_JWT}")
        check(header.get("alg") == self.alg, f"header alg {header.get('alg')!r}")
        check(key.algorithm_name == self.alg, f"the JWK is for {key.algorithm_name}")
        check(claims["iss"] == self.issuer, f"iss {claims['iss']!r}")
        aud = audience if aud is None else aud
        check(claims["aud"] == aud, f"aud {claims['aud']!r}, expected {aud!r}")
        check(claims.get("client_id") == client_id, f"client_id {claims.get('client_id')!r}")
        check(claims["sub"] == client_id, f"sub {claims['sub']!r}")
        check(claims.get("scope") == scope, f"scope {claims.get('scope')!r}, expected {scope!r}")
        now = time.time()
        check(claims["iat"] <= now + 5, f"iat {claims['iat']} is in the future")
        check(now < claims["exp"] <= now + 86_400 + 5, f"exp {claims['exp']} (now {now:.0f})")
        return claims

    # ---- the flow ----

    def run(self):
        self.step("create the tenant")
        expect(
            self.admin.post(
                f"{self.url}/tenants", json={"id": TENANT, "name": "Interop"}, timeout=TIMEOUT
            ),
            201,
        )

        self.step("RFC 8414 metadata, found from the issuer")
        well_known = get_well_known_url(self.issuer, external=True)
        check(
            well_known == f"{self.url}/.well-known/oauth-authorization-server/tenants/{TENANT}",
            f"authlib put the metadata at {well_known}",
        )
        response = requests.get(well_known, timeout=TIMEOUT)
        metadata = expect(response, 200)
        check(
            response.headers.get("Content-Type", "").startswith("application/json"),
            f"metadata Content-Type {response.headers.get('Content-Type')!r}",
        )
        check(
            metadata.get("issuer") == self.issuer,
            f"issuer {metadata.get('issuer')!r}, expected {self.issuer!r}",
        )
        # authlib's RFC 8414 validator, every rule. It wants response_types_supported
        # non-empty; a server without an authorization endpoint has none to list, so that
        # one member is checked here instead: an array, and empty.
        check(
            metadata.get("response_types_supported") == [],
            f"response_types_supported {metadata.get('response_types_supported')!r}",
        )
        checked = AuthorizationServerMetadata({**metadata, "response_types_supported": ["none"]})
        try:
            checked.validate()
        except ValueError as e:
            raise Failure(f"authlib's RFC 8414 validation: {e}") from e
        for name in ["token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"]:
            value = metadata.get(name)
            check(isinstance(value, str), f"no {name}")
            parts = urllib.parse.urlsplit(value)
            check(
                parts.scheme == "http"
                and parts.hostname == "127.0.0.1"
                and not parts.query
                and not parts.fragment,
                f"{name} {value!r} is not on this server",
            )
            check(value.startswith(self.issuer + "/"), f"{name} {value!r} is not under the issuer")
        check(
            "client_credentials" in metadata.get("grant_types_supported", []),
            "grant_types_supported",
        )
        for name in [
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ]:
            methods = metadata.get(name) or []
            for method in ["client_secret_basic", "client_secret_post", "private_key_jwt"]:
                check(method in methods, f"{name} lacks {method}: {methods}")
        check(
            "RS256" in metadata.get("token_endpoint_auth_signing_alg_values_supported", []),
            "token_endpoint_auth_signing_alg_values_supported lacks RS256",
        )
        # From here on, every endpoint is the one the metadata names.
        self.token_endpoint = metadata["token_endpoint"]
        self.introspection_endpoint = metadata["introspection_endpoint"]
        self.revocation_endpoint = metadata["revocation_endpoint"]
        self.jwks_uri = metadata["jwks_uri"]
        other = expect(
            requests.get(f"{self.issuer}/.well-known/oauth-authorization-server", timeout=TIMEOUT),
            200,
        )
        check(other == metadata, "the suffixed well-known URL serves other metadata")

        self.step("the JWKS: public keys only, for the server's algorithm")
        jwks = expect(requests.get(self.jwks_uri, timeout=TIMEOUT), 200)
        keys = jwks.get("keys")
        check(isinstance(keys, list) and keys, f"JWKS {jwks}")
        for key in keys:
            check(not PRIVATE_MEMBERS & key.keys(), f"a JWK shows private parts: {sorted(key)}")
            check(isinstance(key.get("kid"), str) and key["kid"], f"a JWK without kid: {key}")
            check(
                key.get("alg") in (None, self.alg),
                f"a JWK for {key.get('alg')}, expected {self.alg}",
            )
            check(key.get("use") in (None, "sig"), f"a JWK for use {key.get('use')!r}")
        kids = [key["kid"] for key in keys]
        check(len(set(kids)) == len(kids), f"kids repeat: {kids}")
        self.jwks = jwt.PyJWKClient(self.jwks_uri, cache_jwk_set=True, timeout=TIMEOUT)
        try:
            loaded = self.jwks.get_signing_keys()
        except jwt.PyJWTError as e:
            raise Failure(f"PyJWT cannot use the JWKS: {type(e).__name__}: {e}") from e
        check({k.key_id for k in loaded} == set(kids), "PyJWT found other signing keys")

        self.step("three clients, one per authentication method")
        basic_id, basic_secret = self.create_client("interop basic")
        check(
            self.client_document(basic_id).get("clientAuthMethod") == "client_secret_basic",
            "a non_interactive client's default method is not client_secret_basic",
        )
        post_id, post_secret = self.create_client("interop post", "client_secret_post")
        check(
            self.client_document(post_id).get("clientAuthMethod") == "client_secret_post",
            "client_secret_post was not kept",
        )
        jwt_id, _ = self.create_client("interop private_key_jwt")

        self.step("register an RSA public key and switch that client to private_key_jwt")
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        # As authlib (through joserfc, its JOSE library) wants a signing key.
        private_jwk = RSAKey.import_key(
            private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        credential = expect(
            self.admin.post(
                f"{self.url}/clients/{jwt_id}/credentials",
                json={"credential_type": "public_key", "name": "interop", "pem": public_pem},
                timeout=TIMEOUT,
            ),
            201,
        )
        kid = credential.get("kid")
        check(isinstance(kid, str) and kid, f"no kid: {credential}")
        expect(
            self.admin.patch(
                f"{self.url}/clients/{jwt_id}",
                data='[{"op": "replace", "path": "/clientAuthMethod", "value": "private_key_jwt"}]',
                headers={"Content-Type": "application/json-patch+json"},
                timeout=TIMEOUT,
            ),
            200,
        )
        check(
            self.client_document(jwt_id).get("clientAuthMethod") == "private_key_jwt",
            "private_key_jwt was not kept",
        )

        basic = self.session(basic_id, basic_secret, "client_secret_basic")
        post = self.session(post_id, post_secret, "client_secret_post")
        signed = self.session(jwt_id, private_jwk, "private_key_jwt")
        signed.register_client_auth_method(IssuerAssertion(self.issuer, kid))
        full = " ".join(SCOPES)
        tokens = {}

        self.step("client_secret_basic: a token, verified with PyJWT")
        token = self.fetch(basic, audience=AUDIENCE)
        check(token.get("scope") == full, f"scope {token.get('scope')!r}")
        self.verify(token["access_token"], basic_id, full, AUDIENCE)
        tokens["basic"] = token["access_token"]

        self.step("client_secret_post: a token, verified with PyJWT")
        token = self.fetch(post, audience=AUDIENCE)
        self.verify(token["access_token"], post_id, full, AUDIENCE)
        tokens["post"] = token["access_token"]

        self.step("private_key_jwt, aud the issuer: a token, verified with PyJWT")
        token = self.fetch(signed, audience=AUDIENCE)
        self.verify(token["access_token"], jwt_id, full, AUDIENCE)
        tokens["jwt"] = token["access_token"]
        token = self.fetch(signed, audience=AUDIENCE)
        check(token["access_token"] != tokens["jwt"], "the same token twice")
        self.verify(token["access_token"], jwt_id, full, AUDIENCE)

        self.step("scope=invoices:read and one audience: the claims follow")
        token = self.fetch(basic, scope="invoices:read", audience=OTHER_AUDIENCE)
        check(token.get("scope") == "invoices:read", f"scope {token.get('scope')!r}")
        self.verify(token["access_token"], basic_id, "invoices:read", OTHER_AUDIENCE)
        token = self.fetch(signed, scope=["invoices:read"], audience=AUDIENCE)
        self.verify(token["access_token"], jwt_id, "invoices:read", AUDIENCE)
        try:
            jwt.decode(
                token["access_token"],
                self.jwks.get_signing_key_from_jwt(token["access_token"]),
                algorithms=[self.alg],
                audience=OTHER_AUDIENCE,
                issuer=self.issuer,
            )
        except jwt.InvalidAudienceError:
            pass
        else:
            raise Failure("PyJWT took a token for an audience it was not issued for")

        self.step("no audience asked: aud is every audience of the client")
        token = self.fetch(post)
        self.verify(
            token["access_token"], post_id, full, OTHER_AUDIENCE, [AUDIENCE, OTHER_AUDIENCE]
        )

        self.step("refusals: a scope, an audience and a secret that are not the client's")
        self.refused(basic, 400, "invalid_scope", scope="invoices:delete", audience=AUDIENCE)
        self.refused(basic, 400, "invalid_target", audience="https://elsewhere.example")
        self.refused(
            self.session(basic_id, basic_secret + "x", "client_secret_basic"), 401, "invalid_client"
        )
        # A method the client is not configured for is refused even with the right secret.
        self.refused(
            self.session(basic_id, basic_secret, "client_secret_post"), 401, "invalid_client"
        )

        self.step(
            "private_key_jwt: assertions with aud the token endpoint, an hour's exp, a replay"
        )
        at_endpoint = self.session(jwt_id, private_jwk, "private_key_jwt")
        at_endpoint.register_client_auth_method(IssuerAssertion(self.token_endpoint, kid))
        why = self.refused(at_endpoint, 401, "invalid_client", audience=AUDIENCE)
        check("aud" in why, f"the refusal does not name aud: {why!r}")
        # authlib's PrivateKeyJWT as it comes, but for the audience: exp an hour ahead.
        hour = self.session(jwt_id, private_jwk, "private_key_jwt")
        hour.register_client_auth_method(
            PrivateKeyJWT(self.issuer, headers={"kid": kid}, alg="RS256")
        )
        why = self.refused(hour, 401, "invalid_client", audience=AUDIENCE)
        check("exp" in why, f"the refusal does not name exp: {why!r}")
        assertion = private_key_jwt_sign(
            private_jwk, jwt_id, self.issuer, alg="RS256", header={"kid": kid}, expires_in=120
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        expect(requests.post(self.token_endpoint, data=form, timeout=TIMEOUT), 200)
        replay = requests.post(self.token_endpoint, data=form, timeout=TIMEOUT)
        answer = expect(replay, 401)
        check(answer.get("error") == "invalid_client", f"a replayed assertion: {answer}")

        self.step("introspection (RFC 7662) by each method: the tokens are active")
        introspectors = [
            (basic, "client_secret_basic"),
            (post, "client_secret_post"),
            (signed, "private_key_jwt"),
        ]
        owners = {"basic": basic_id, "post": post_id, "jwt": jwt_id}
        for session, method in introspectors:
            for which, access_token in tokens.items():
                answer = expect(
                    session.introspect_token(self.introspection_endpoint, token=access_token), 200
                )
                claims = jwt.decode(access_token, options={"verify_signature": False})
                check(answer.get("active") is True, f"{method} introspecting {which}: {answer}")
                expected = {
                    "client_id": owners[which],
                    "sub": owners[which],
                    "scope": full,
                    "aud": AUDIENCE,
                    "iss": self.issuer,
                    "exp": claims["exp"],
                    "iat": claims["iat"],
                    "jti": claims["jti"],
                    "token_type": "Bearer",
                }
                wrong = {k: answer.get(k) for k, v in expected.items() if answer.get(k) != v}
                check(not wrong, f"{method} introspecting {which}: {wrong}, expected {expected}")
        answer = expect(
            basic.introspect_token(self.introspection_endpoint, token="not-a-token"), 200
        )
        check(answer == {"active": False}, f"a made-up token: {answer}")
        answer = expect(
            basic.introspect_token(
                self.introspection_endpoint, token=tokens["basic"], token_type_hint="access_token"
            ),
            200,
        )
        check(answer.get("active") is True, f"with token_type_hint: {answer}")

        self.step("revocation (RFC 7009): another client's token is left alone")
        expect(basic.revoke_token(self.revocation_endpoint, token=tokens["post"]), 200)
        answer = expect(
            basic.introspect_token(self.introspection_endpoint, token=tokens["post"]), 200
        )
        check(answer.get("active") is True, f"a client revoked another's token: {answer}")

        self.step("revocation (RFC 7009) by each method: then introspection says exactly inactive")
        for which, session in [("basic", basic), ("post", post), ("jwt", signed)]:
            response = session.revoke_token(
                self.revocation_endpoint, token=tokens[which], token_type_hint="access_token"
            )
            check(
                response.status_code == 200,
                f"revoke {which}: {response.status_code} {body(response)}",
            )
            for introspector, method in introspectors:
                answer = expect(
                    introspector.introspect_token(self.introspection_endpoint, token=tokens[which]),
                    200,
                )
                check(
                    answer == {"active": False},
                    f"{method} introspecting the revoked {which} token: {answer}",
                )
            # Revoking again, or revoking nonsense, is still 200 (RFC 7009 2.2).
            again = session.revoke_token(self.revocation_endpoint, token=tokens[which])
            check(
                again.status_code == 200, f"revoke {which} again: {again.status_code} {body(again)}"
            )
        nonsense = basic.revoke_token(self.revocation_endpoint, token="not-a-token")
        check(
            nonsense.status_code == 200, f"revoke nonsense: {nonsense.status_code} {body(nonsense)}"
        )

        self.step("revocation needs client authentication")
        response = self.session(basic_id, basic_secret + "x", "client_secret_basic").revoke_token(
            self.revocation_endpoint, token=tokens["basic"]
        )
        answer = expect(response, 401)
        check(answer.get("error") == "invalid_client", f"a wrong secret at revocation: {answer}")

        self.step("a new token of a client whose old one was revoked is active")
        token = self.fetch(post, audience=AUDIENCE)
        self.verify(token["access_token"], post_id, full, AUDIENCE)
        answer = expect(
            basic.introspect_token(self.introspection_endpoint, token=token["access_token"]), 200
        )
        check(answer.get("active") is True and answer.get("client_id") == post_id, f"{answer}")


def main():
    url = os.environ["CLIENTD_URL"]
    token = os.environ["CLIENTD_TOKEN"]
    alg = os.environ.get("INTEROP_SIGNING_ALG", "ES256")
    print(f"authlib and PyJWT against {url}, tokens signed with {alg}", flush=True)
    steps = []
    try:
        Run(url, token, alg, steps).run()
    except Failure as e:
        last = steps[-1] if steps else "the start"
        print(f"scripts/interop.py: FAILED at {last!r}: {e}", file=sys.stderr)
        return 1
    except Exception:
        # Anything else (the server unreachable, a library's own error): named, then shown.
        last = steps[-1] if steps else "the start"
        print(f"scripts/interop.py: FAILED at {last!r}; the traceback follows", file=sys.stderr)
        raise
    print("authlib and PyJWT did every step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
