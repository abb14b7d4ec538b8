"""The token endpoint's part of the benchmark (scripts/bench.py): clients that get tokens with
a secret (client_secret_basic) and with a signed assertion (private_key_jwt), and the
assertions themselves, each single-use, made before the run. Signing them needs the
`cryptography` package (on the machine's Python); without it that call is skipped."""

import base64
import concurrent.futures
import json
import time
import uuid

import clientd

CLIENTS = 64
ASSERTION_TYPE = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

LUA = {
    "token": """function request()
  counter = counter + 1
  local i = counter % #mine + 1
  return wrk.format("POST", "/tenants/" .. tenant .. "/oauth2/token",
    {["Authorization"] = mine_secrets[i], ["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=client_credentials")
end""",
    # Each thread sends its own share of the assertions, each once.
    "token_jwt": """local assertions = nil
function request()
  if assertions == nil then
    assertions = {}
    local n = 0
    for line in io.lines("ASSERTIONS") do
      if n % {threads} == offset then assertions[#assertions + 1] = line end
      n = n + 1
    end
  end
  counter = counter + 1
  local body = "grant_type=client_credentials&client_assertion_type=""" + ASSERTION_TYPE + """&client_assertion="
    .. assertions[counter % #assertions + 1]
  return wrk.format("POST", "/tenants/" .. tenant .. "/oauth2/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end""",
}


def have_signing():
    try:
        import cryptography  # noqa: F401
        return True
    except ImportError:
        return False


def seed(server, tenant):
    """CLIENTS machine clients with secrets (their Basic headers), and CLIENTS that sign
    assertions with one RSA key (its PKCS#8 PEM, and the clients' ids and the key's kid)."""
    def admin():
        # One connection per call: an Api keeps one, and the pool's threads share nothing.
        return clientd.Api(server.port, server.token)

    def create(name, extra):
        body = {"name": name, "app_type": "non_interactive", "scope": ["bench:read"], **extra}
        status, client, _ = admin().call("POST", f"/tenants/{tenant}/clients", body)
        assert status == 201, client
        return client

    def with_secret(n):
        client = create(f"Token bench {n}", {})
        pair = f"{client['id']}:{client['secret']}".encode()
        return client["id"], "Basic " + base64.b64encode(pair).decode()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        secret_clients = list(pool.map(with_secret, range(CLIENTS)))
    if not have_signing():
        return secret_clients, None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()

    def with_key(n):
        client = create(f"Assertion bench {n}", {})
        status, credential, _ = admin().call("POST", f"/clients/{client['id']}/credentials",
                                           {"credential_type": "public_key", "name": "bench", "pem": public})
        assert status == 201, credential
        status, patched, _ = admin().call("PATCH", f"/clients/{client['id']}",
                                        [{"op": "replace", "path": "/clientAuthMethod", "value": "private_key_jwt"}],
                                        headers={"Content-Type": "application/json-patch+json"})
        assert status == 200, patched
        return client["id"], credential["kid"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jwt_clients = list(pool.map(with_key, range(CLIENTS)))
    return secret_clients, {"pem": private, "clients": jwt_clients}


def _sign_batch(job):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    pem, issuer, clients, count, start = job
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    encode = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    now = int(time.time())
    lines = []
    for i in range(start, start + count):
        client, kid = clients[i % len(clients)]
        header = encode({"alg": "RS256", "typ": "JWT", "kid": kid})
        claims = encode({"iss": client, "sub": client, "aud": issuer, "iat": now, "exp": now + 300,
                         "jti": str(uuid.uuid4())})
        signature = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        lines.append(f"{header}.{claims}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}")
    return lines


def assertions(signer, issuer, count, path):
    """`count` single-use assertions, valid for five minutes from now, one per line."""
    batches = [(signer["pem"], issuer, signer["clients"], count // 8, i * (count // 8)) for i in range(8)]
    with concurrent.futures.ProcessPoolExecutor() as pool, open(path, "w") as out:
        for lines in pool.map(_sign_batch, batches):
            out.write("\n".join(lines) + "\n")


def reference_script(client_id):
    """The one statement a hand-written private_key_jwt check must write: its jti."""
    return f"""\\set n random(1, 4000000000000000)
INSERT INTO client_assertion_jtis (client_id, jti, expires_at)
  VALUES ('{client_id}', 'pgb-' || :n, now() + interval '6 minutes');
"""
