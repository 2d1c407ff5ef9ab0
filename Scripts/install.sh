#!/bin/sh
# Installs kvmplan: a stripped release binary, bash/zsh/fish completions and the man page.
#
#   Scripts/install.sh                         # builds, installs under /usr/local
#   Scripts/install.sh --prefix "$HOME/.local"  # another prefix
#   Scripts/install.sh --destdir pkgroot        # stage into a package root (DESTDIR)
#   Scripts/install.sh --binary PATH            # install an already built kvmplan instead of building
#
# Installs PREFIX/bin/kvmplan, PREFIX/share/bash-completion/completions/kvmplan,
# PREFIX/share/zsh/site-functions/_kvmplan, PREFIX/share/fish/vendor_completions.d/kvmplan.fish and
# PREFIX/share/man/man1/kvmplan.1. Needs Swift 6.3+ and libyaml-dev to build.
set -eu

prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
binary=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --destdir) destdir=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$binary" ]; then
    (cd "$root" && swift build -c release --static-swift-stdlib --product kvmplan)
    binary="$root/.build/release/kvmplan"
fi
[ -x "$binary" ] || { echo "install.sh: '$binary' is not an executable" >&2; exit 2; }

base="$destdir$prefix"
install -d "$base/bin" "$base/share/bash-completion/completions" "$base/share/zsh/site-functions" \
    "$base/share/fish/vendor_completions.d" "$base/share/man/man1"
install -m 0755 "$binary" "$base/bin/kvmplan"
# No symbol table: a smaller binary, and nothing kvmplan needs at run time.
if command -v strip >/dev/null 2>&1; then strip --strip-all "$base/bin/kvmplan"; fi
"$base/bin/kvmplan" --generate-completion-script bash > "$base/share/bash-completion/completions/kvmplan"
"$base/bin/kvmplan" --generate-completion-script zsh > "$base/share/zsh/site-functions/_kvmplan"
"$base/bin/kvmplan" --generate-completion-script fish > "$base/share/fish/vendor_completions.d/kvmplan.fish"
install -m 0644 "$root/docs/kvmplan.1" "$base/share/man/man1/kvmplan.1"
echo "installed $("$base/bin/kvmplan" --version | head -n 1) into $base"
