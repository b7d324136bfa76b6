# Production image of lift: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin lift

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/lift lift && mkdir -p /var/lib/lift && chown lift /var/lib/lift
COPY --from=build /src/target/release/lift /usr/local/bin/lift
USER lift
WORKDIR /var/lib/lift
EXPOSE 8000
ENTRYPOINT ["lift"]
CMD ["serve", "--listen", "0.0.0.0:8000"]
