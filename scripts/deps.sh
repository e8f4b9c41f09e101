#!/usr/bin/env bash
# Installs every Debian package asicmon's build, tests and run need.
# Idempotent: packages already present are left as they are. Needs root (or sudo).
# Nothing is fetched from anywhere but the Debian archive (and, later, the npm registry).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  cppzmq-dev libzmq3-dev            # the bus
  libmsgpack-cxx-dev libboost-dev   # records on the bus (msgpack-c's CMake config wants Boost)
  libsqlitecpp-dev libsqlite3-dev   # the embedded store
  libpqxx-dev postgresql            # the PostgreSQL store; the server for its tests
  libcurl4-openssl-dev              # push
  libssl-dev                        # fakefarm: MD5 and nonces of HTTP Digest auth (OpenSSL EVP)
  libpistache-dev                   # control's REST API
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev         # tests
  clang libclang-rt-14-dev          # fuzzing (libFuzzer) and sanitizer runtimes
  supervisor                        # runs the pipeline
  iproute2 procps bc                # tests, scripts and benches: namespaces, /proc, arithmetic
)

# Debian's npm conflicts with a Node.js installed another way: use the one there is.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Swagger UI for asicmon-control's /docs: on npm only, installed into the
# clone (third_party/node_modules), never fetched at run time.
swagger_version=5.35.0
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! grep -qs "\"version\": \"$swagger_version\"" "$root/third_party/node_modules/swagger-ui-dist/package.json"; then
  echo "deps: npm install swagger-ui-dist@$swagger_version"
  mkdir -p "$root/third_party"
  npm install --prefix "$root/third_party" --no-audit --no-fund --loglevel=error \
    "swagger-ui-dist@$swagger_version"
fi
