//! The key and certificate fixtures of tests/fixtures/keys, for the domain's unit tests: named
//! once here, read at compile time.

macro_rules! key_file {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/",
            $name
        ))
    };
}

pub const RSA_A: &str = key_file!("rsa2048-a-public.pem");
pub const RSA_A_PKCS1: &str = key_file!("rsa2048-a-pkcs1.pem");
pub const RSA_A_PRIVATE: &str = key_file!("rsa2048-a-private.pem");
pub const RSA_B: &str = key_file!("rsa2048-b-public.pem");
pub const RSA_C: &str = key_file!("rsa2048-c-public.pem");
pub const RSA_4096: &str = key_file!("rsa4096-public.pem");
pub const RSA_1024: &str = key_file!("rsa1024-public.pem");
pub const RSA_E3: &str = key_file!("rsa2048-e3-public.pem");
pub const RSA_PSS: &str = key_file!("rsapss-public.pem");
pub const EC: &str = key_file!("ec-public.pem");
pub const CERT: &str = key_file!("cert-valid.pem");
pub const CERT_EXPIRED: &str = key_file!("cert-expired.pem");
/// The kids and thumbprints openssl computed for the keys above (scripts/make-test-keys).
pub const EXPECTED: &str = key_file!("expected.json");
