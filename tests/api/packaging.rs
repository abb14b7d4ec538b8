//! The Dockerfile and compose file cannot be run here (no Docker engine), so these checks keep
//! them consistent with the code by construction.

use serde_json::Value;

fn read(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

#[test]
fn the_dockerfile_builds_as_the_readme_says_and_copies_what_the_build_reads() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(read("README.md").contains("cargo build --release --locked"));
    // Everything the crate compiles in must be in the build context the Dockerfile copies.
    for input in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "migrations",
        "openapi.yaml",
    ] {
        assert!(
            dockerfile.contains(&format!(" {input}")),
            "the Dockerfile does not copy {input}"
        );
    }
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("\"healthcheck\""));
    assert!(dockerfile.contains("USER 65532"));
}

#[test]
fn compose_runs_clientd_on_its_postgres() {
    let compose: Value = serde_norway::from_str(&read("compose.yaml")).unwrap();
    let clientd = &compose["services"]["clientd"];
    let url = clientd["environment"]["DATABASE_URL"].as_str().unwrap();
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "{url}"
    );
    assert_eq!(
        clientd["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert!(
        compose["services"]["postgres"]["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:")
    );
}
