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
  libssl-dev openssl                # MD5 and nonces of HTTP Digest auth (OpenSSL EVP): discover reading a web identity, the fake farm; the HTTPS test makes its certificate with openssl
  libpistache-dev                   # control's REST API
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # the Braiins OS public API (driver, fake farm)
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev         # tests
  clang libclang-rt-14-dev          # fuzzing (libFuzzer) and sanitizer runtimes
  supervisor                        # runs the pipeline
  iproute2 procps bc                # tests, scripts and benches: namespaces, /proc, arithmetic
  curl                              # scripts and benches ask control's REST API
  dpkg-dev fakeroot lintian help2man  # the Debian package (cpack -G DEB, dpkg-shlibdeps, manual pages) and its check
  chromium chromium-driver          # the dashboard's browser test drives Debian's headless chromium
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

# npm packages, installed into the clone (third_party/node_modules), never fetched
# at run time: Swagger UI for control's /docs, uPlot for the dashboard's charts,
# playwright-core for the browser test (it drives Debian's chromium above, so its
# own browser download stays off).
root="$(cd "$(dirname "$0")/.." && pwd)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm_packages=(swagger-ui-dist@5.35.0 uplot@1.6.32 playwright-core@1.65.1)
for spec in "${npm_packages[@]}"; do
  name="${spec%@*}" version="${spec##*@}"
  if ! grep -qs "\"version\": \"$version\"" "$root/third_party/node_modules/$name/package.json"; then
    echo "deps: npm install $spec"
    mkdir -p "$root/third_party"
    npm install --prefix "$root/third_party" --no-audit --no-fund --loglevel=error "$spec"
  fi
done
