# clientd: a multi-stage build into a small, non-root runtime image.
#   docker build -t clientd .
#   docker run -p 8080:8080 -e CLIENTD_BOOTSTRAP_TOKEN=... clientd
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY src ./src
COPY migrations ./migrations
COPY openapi.yaml ./
COPY assets ./assets
# The same build command as the README's; SQLite is compiled in, TLS roots are bundled.
RUN cargo build --release --locked --bin clientd

# distroless/cc: glibc and libgcc only, no shell, runs as uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/clientd /usr/local/bin/clientd
WORKDIR /home/nonroot
# CLIENTD_PUBLIC_URL is the issuer of the tenants' access tokens: a deployment overrides it
# with the https URL its clients reach clientd at (docker run -e CLIENTD_PUBLIC_URL=https://...).
ENV CLIENTD_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///home/nonroot/clientd.db \
    CLIENTD_LOG_FORMAT=json \
    CLIENTD_PUBLIC_URL=http://localhost:8080
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/clientd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/clientd"]
CMD ["serve"]
