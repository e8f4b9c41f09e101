#!/usr/bin/env bash
# Builds the Debian package from a Release build and checks it the way an operator uses it:
#   scripts/package.sh [BUILD_DIR]        (default build/, as scripts/test.sh release leaves it)
# cpack -G DEB; dpkg-deb --info/--contents; lintian (no errors); apt-get install of the .deb;
# every installed executable's --help from /usr/bin, as the asicmon user; control serving its
# web assets from /usr/share/asicmon; systemd-analyze verify of the units (where it can);
# dpkg --remove keeps the settings and the data, dpkg --purge leaves nothing.
# Installs and purges a package on this machine: root only (CI runs it as root).
set -euo pipefail
export no_proxy='*' NO_PROXY='*'  # curl asks control on loopback: never through a proxy
cd "$(dirname "$0")/.."
root=$PWD
dir="${1:-build}"
start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "package: this installs asicmon_*.deb on this machine and purges it again, so it needs root." >&2
  echo "package: run it as root (CI does), or just build the package: cd $dir && cpack -G DEB" >&2
  exit 1
fi
# A real installation here would lose its database and settings to the purge below.
if dpkg-query -W -f='${Status}' asicmon 2>/dev/null | grep -q "install ok installed" \
   && [ "${CI:-}" != true ]; then
  echo "package: asicmon is installed on this machine; the check would purge it (and its data)." >&2
  echo "package: run it on a CI or scratch machine (CI=true lets it replace an earlier run's package)." >&2
  exit 1
fi
if [ ! -f "$dir/CMakeCache.txt" ]; then
  echo "package: no build in $dir: run scripts/test.sh release first" >&2
  exit 1
fi
for tool in cpack dpkg-deb dpkg-shlibdeps lintian help2man curl; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

fail() { echo "package: FAIL: $*" >&2; exit 1; }

# What the package holds (already built after scripts/test.sh release: a no-op then).
cmake --build "$dir" --target asicmon_discover asicmon_collect asicmon_store asicmon_push \
  asicmon_alert asicmon_control asicmon_tap asicmon_keygen asicmon_control_web asicmon_man
rm -f "$dir"/asicmon_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
debs=("$dir"/asicmon_*_amd64.deb)
[ -f "${debs[0]}" ] || fail "cpack made no asicmon_<version>_amd64.deb in $dir"
deb="$(cd "$(dirname "${debs[0]}")" && pwd)/$(basename "${debs[0]}")"
echo "package: built $deb"

dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
# Errors fail the step; warnings and notes are shown (README "Install the package" lists
# the ones left and why).
lintian --fail-on error "$deb" 2>&1 \
  || fail "lintian found errors"

# A package left by an earlier, interrupted run goes first.
dpkg --purge asicmon >/dev/null 2>&1 || true
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
mapfile -t files < <(dpkg -L asicmon)

getent passwd asicmon >/dev/null || fail "postinst made no asicmon user"
[ "$(stat -c %U:%G "/var/lib/asicmon")" = asicmon:asicmon ] || fail "/var/lib/asicmon is not asicmon's"
grep -qx /etc/asicmon/asicmon.env /var/lib/dpkg/info/asicmon.conffiles \
  || fail "/etc/asicmon/asicmon.env is not a conffile"

mapfile -t exes < <(printf '%s\n' "${files[@]}" | grep '^/usr/bin/')
[ ${#exes[@]} -eq 8 ] || fail "expected 8 executables in /usr/bin, the package has ${#exes[@]}"
for exe in "${exes[@]}"; do
  runuser -u asicmon -- "$exe" --help >/dev/null || fail "$exe --help"
done
echo "package: ${#exes[@]} executables answer --help from /usr/bin as the asicmon user"

# control finds /usr/share/asicmon/web beside /usr/bin without ASICMON_WEB_DIR. A random
# loopback port; another one if something else holds it (control then exits at once).
scratch=$(mktemp -d)
chown asicmon: "$scratch"
served=""
for _attempt in 1 2 3; do
  port=$(( 20000 + RANDOM % 20000 ))
  (cd "$scratch" && exec runuser -u asicmon -- env -i PATH=/usr/bin:/bin ASICMON_RUN_DIR="$scratch" \
    ASICMON_DB="$scratch/asicmon.db" CONTROL_BIND="127.0.0.1:$port" LOG_LEVEL=warn \
    /usr/bin/asicmon-control >/dev/null 2>"$scratch/control.log") &
  control_pid=$!
  for _ in $(seq 1 100); do
    served=$(curl -fsS "http://127.0.0.1:$port/openapi.json" 2>/dev/null) && break
    kill -0 "$control_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$control_pid" 2>/dev/null || true
  wait "$control_pid" 2>/dev/null || true
  [ -n "$served" ] && break
done
grep -q '"openapi"' <<<"$served" || { cat "$scratch/control.log" >&2; fail "control did not serve /openapi.json from /usr/share/asicmon/web"; }
rm -rf "$scratch"
echo "package: asicmon-control serves its web assets from /usr/share/asicmon/web"

# The upgrade path (postinst with the old version, the user and its directory kept).
dpkg -i "$deb" >/dev/null
[ "$(stat -c %U "/var/lib/asicmon")" = asicmon ] || fail "a reinstall lost /var/lib/asicmon's owner"

units=(/lib/systemd/system/asicmon*.service /lib/systemd/system/asicmon.target)
# verify loads the units (and their drop-in) offline: it needs no running systemd.
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "${units[@]}" || fail "systemd-analyze verify"
  echo "package: systemd-analyze verify: ${#units[@]} units fine"
else
  echo "package: no systemd-analyze here (no systemd in this container?): unit check skipped"
fi

# What an operator leaves behind: a secret, a database, the target enabled with an extra worker.
echo "CONTROL_TOKEN=x" > /etc/asicmon/control.secret
runuser -u asicmon -- touch /var/lib/asicmon/asicmon.db
systemctl enable asicmon.target asicmon-collect@3.service >/dev/null 2>&1 \
  || fail "systemctl enable asicmon.target"

dpkg --remove asicmon >/dev/null
for kept in /etc/asicmon/asicmon.env /var/lib/asicmon/asicmon.db; do
  [ -e "$kept" ] || fail "dpkg --remove took $kept (only purge may)"
done
[ ! -e /usr/bin/asicmon-control ] || fail "dpkg --remove left /usr/bin/asicmon-control"

dpkg --purge asicmon >/dev/null
left=()
for f in "${files[@]}"; do
  # Directories shared with other packages (/usr/bin, /lib/systemd/system) stay.
  if [ -d "$f" ] && [[ "$f" != *asicmon* ]]; then continue; fi
  if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
done
for f in /etc/asicmon /var/lib/asicmon /etc/systemd/system/asicmon.target.wants \
         /etc/systemd/system/multi-user.target.wants/asicmon.target \
         /etc/systemd/system/multi-user.target.wants/asicmon-collect@3.service; do
  if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
done
[ ${#left[@]} -eq 0 ] || fail "dpkg --purge left: ${left[*]}"
! getent passwd asicmon >/dev/null || fail "dpkg --purge left the asicmon user"
echo "package: purged, nothing left ($(( SECONDS - start )) s)"
