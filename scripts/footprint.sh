#!/usr/bin/env bash
# What the attributes cost a service: builds the cinema's `users` service
# (examples/cinema/app.rs + examples/cinema-users.rs) three ways, each its own
# Cargo project under target/footprint/ with this repository's Cargo.lock:
#
#   baseline      a plain axum + reqwest service (one route making one call)
#   plain         the users service with the filibuster attributes taken out
#                 and no filibuster dependency
#   instrumented  the users service as it is, depending on `filibuster`
#                 (default features: the attributes and their runtime)
#
# and prints, for each, the stripped release binary's size, the clean release
# build's wall time (dependencies included) and the incremental one (after a
# touch of the service's source), with the instrumented/plain ratios. Targets
# (issue 12): at most +10% binary, at most +15% clean build.
#
#   scripts/footprint.sh            # ~5-10 min on 2 cores: three clean release builds
#
# JOBS sets cargo's -j (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$repo/target/footprint
rm -rf "$work"
mkdir -p "$work"
jobs=(); [ -n "${JOBS:-}" ] && jobs=(-j "$JOBS")

common_deps='axum = "0.8"
reqwest = { version = "0.13", default-features = false, features = ["json"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "net", "time", "sync"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tracing = "0.1"
tracing-subscriber = { version = "0.3", features = ["env-filter"] }'

project() { # name, extra dependency lines
  mkdir -p "$work/$1/src"
  cat >"$work/$1/Cargo.toml" <<EOF
[package]
name = "footprint-$1"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
$common_deps
$2

[profile.release]
strip = true
EOF
  cp "$repo/Cargo.lock" "$work/$1/Cargo.lock"
}

# baseline: axum + reqwest, nothing else.
project baseline ""
cat >"$work/baseline/src/main.rs" <<'EOF'
use axum::{Router, extract::State, routing::get};

async fn hello(State(http): State<reqwest::Client>) -> String {
    match http.get("http://127.0.0.1:5002/bookings/chris").send().await {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().init();
    let app = Router::new().route("/", get(hello)).with_state(reqwest::Client::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:5001").await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
EOF

# instrumented: the service as it is.
project instrumented "filibuster = { path = \"$repo\" }"
cp "$repo/examples/cinema/app.rs" "$work/instrumented/src/app.rs"
cp -r "$repo/examples/cinema/data" "$work/instrumented/src/data"
sed 's|#\[path = "cinema/app.rs"\]||' "$repo/examples/cinema-users.rs" >"$work/instrumented/src/main.rs"

# plain: the same source without the attributes and the one runtime call.
project plain ""
sed -e '/^#\[filibuster::\(handler\|call\)/d' -e 's/filibuster::enabled()/false/' \
  "$repo/examples/cinema/app.rs" >"$work/plain/src/app.rs"
cp "$work/instrumented/src/main.rs" "$work/plain/src/main.rs"
cp -r "$repo/examples/cinema/data" "$work/plain/src/data"
if grep -v '^ *//' "$work/plain/src/app.rs" | grep -q 'filibuster::'; then
  echo "footprint: plain/src/app.rs still uses filibuster" >&2
  exit 1
fi

now() { date +%s.%N; }
declare -A size clean incr
for name in baseline plain instrumented; do
  cd "$work/$name"
  echo "building $name (clean release)..." >&2
  start=$(now)
  cargo build --release --quiet "${jobs[@]}"
  clean[$name]=$(awk "BEGIN { print $(now) - $start }")
  bin=target/release/footprint-$name
  size[$name]=$(stat -c %s "$bin")
  touch src/main.rs
  [ -f src/app.rs ] && touch src/app.rs
  start=$(now)
  cargo build --release --quiet "${jobs[@]}"
  incr[$name]=$(awk "BEGIN { print $(now) - $start }")
done

printf '\n%-13s %14s %16s %18s\n' variant "binary (KiB)" "clean build (s)" "incremental (s)"
for name in baseline plain instrumented; do
  printf '%-13s %14d %16.1f %18.1f\n' "$name" $((size[$name] / 1024)) "${clean[$name]}" "${incr[$name]}"
done
ratio() { awk "BEGIN { print ($1 - $2) * 100 / $2 }"; }
printf '\ninstrumented vs plain: binary %+.1f%% (target <= +10%%), clean build %+.1f%% (target <= +15%%), incremental %+.1f%%\n' \
  "$(ratio "${size[instrumented]}" "${size[plain]}")" \
  "$(ratio "${clean[instrumented]}" "${clean[plain]}")" \
  "$(ratio "${incr[instrumented]}" "${incr[plain]}")"
