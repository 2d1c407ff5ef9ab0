#!/usr/bin/env bash
# Builds the lab kernel (bzImage) from Debian's linux-source-6.12 with kernel.config, reproducibly, and caches it.
#
#   Tests/Lab/build-kernel.sh            print the path of the cached bzImage (building it when missing)
#
# Cache: $KVMPLAN_LAB_CACHE (default /var/cache/kvmplan-lab), keyed by the source package version and the
# sha256 of kernel.config, so a change to either rebuilds. The build is reproducible (fixed timestamp, user,
# host and version): the same inputs give the same bzImage bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.env"
cache=${KVMPLAN_LAB_CACHE:-/var/cache/kvmplan-lab}
key="$LAB_KERNEL_VERSION-$(sha256sum "$here/kernel.config" | cut -c1-16)"
out="$cache/kernel-$key"
if [ -f "$out/bzImage" ]; then echo "$out/bzImage"; exit 0; fi

tarball=/usr/src/linux-source-6.12.tar.xz
installed=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
if [ "$installed" != "$LAB_KERNEL_PACKAGE_VERSION" ]; then
    echo "lab: linux-source-6.12 $LAB_KERNEL_PACKAGE_VERSION is needed (installed: ${installed:-none})" >&2
    exit 1
fi
mkdir -p "$cache"
src="$cache/src-$LAB_KERNEL_VERSION"
if [ ! -f "$src/Makefile" ]; then
    rm -rf "$src.tmp"; mkdir -p "$src.tmp"
    tar -xf "$tarball" -C "$src.tmp" --strip-components=1
    mv "$src.tmp" "$src"
fi
build="$cache/build-$key"
rm -rf "$build"; mkdir -p "$build"
export KBUILD_BUILD_TIMESTAMP="2026-11-25 00:00:00 UTC" KBUILD_BUILD_USER=kvmplan KBUILD_BUILD_HOST=lab \
       KBUILD_BUILD_VERSION=1 LOCALVERSION= KCONFIG_NOTIMESTAMP=1
echo "lab: building Linux $LAB_KERNEL_VERSION (about 4 minutes on 2 cores) in $build" >&2
make -s -C "$src" O="$build" tinyconfig >&2
cat "$here/kernel.config" >> "$build/.config"
make -s -C "$src" O="$build" olddefconfig >&2
missing=0
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    if ! grep -qxF -- "$line" "$build/.config"; then echo "lab: $line did not survive olddefconfig" >&2; missing=1; fi
done < "$here/kernel.config"
[ "$missing" = 0 ] || exit 1
make -s -C "$src" O="$build" -j"$(nproc)" bzImage >&2
mkdir -p "$out.tmp"
cp "$build/arch/x86/boot/bzImage" "$out.tmp/bzImage"
cp "$build/.config" "$out.tmp/config"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out/bzImage"
