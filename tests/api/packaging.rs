//! The Dockerfile and compose file cannot be run here (no Docker engine), so these checks keep
//! them consistent with the code by construction.

use serde_json::Value;

use crate::helpers::repo_file as read;

#[test]
fn the_dockerfile_builds_as_the_readme_says_and_copies_what_the_build_reads() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(read("README.md").contains("cargo build --release --locked"));
    // Everything the crate compiles in must be in the build context the Dockerfile copies.
    // sqlx::migrate! reads migrations/ through a macro argument, which the scan cannot see.
    let mut inputs = ["Cargo.toml", "Cargo.lock", "src", "migrations"]
        .map(str::to_owned)
        .to_vec();
    inputs.extend(included_top_level_paths());
    assert!(inputs.iter().any(|i| i == "assets") && inputs.iter().any(|i| i == "openapi.yaml"));
    for input in &inputs {
        assert!(
            dockerfile.contains(&format!(" {input}")),
            "the Dockerfile does not copy {input}"
        );
    }
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("\"healthcheck\""));
    assert!(dockerfile.contains("USER 65532"));
}

/// The repository's top-level entries that `include_str!` and `include_bytes!` in src/ read.
fn included_top_level_paths() -> Vec<String> {
    let root = crate::helpers::repo_path("");
    let mut found = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for macro_call in ["include_str!(\"", "include_bytes!(\""] {
                for piece in source.split(macro_call).skip(1) {
                    let relative = &piece[..piece.find('"').unwrap()];
                    let full = dir.join(relative);
                    let resolved: std::path::PathBuf =
                        full.components()
                            .fold(std::path::PathBuf::new(), |mut path, part| {
                                match part {
                                    std::path::Component::ParentDir => {
                                        path.pop();
                                    }
                                    part => path.push(part),
                                }
                                path
                            });
                    let inside = resolved.strip_prefix(&root).unwrap();
                    let top = inside.components().next().unwrap();
                    found.push(top.as_os_str().to_string_lossy().into_owned());
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
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
