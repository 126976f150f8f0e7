#!/bin/sh
# Build native/abi-check against the installed kernel headers (linux-libc-dev).
# Usage: native/build.sh [OUTDIR]   (default native/build/, which git ignores)
# Fields and enum members without a macro to test for are probed by compiling a
# one-line program, so one source builds against 6.1 and current upstream headers.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/build"}
cc=${CC:-gcc}
mkdir -p "$out"

probe() { # probe NAME EXPRESSION: define HAVE_NAME if EXPRESSION compiles
	if printf '#include <stddef.h>\n#include <linux/sed-opal.h>\nint main(void){return (int)(%s);}\n' "$2" |
		$cc -x c -fsyntax-only - 2>/dev/null; then
		printf ' -DHAVE_%s' "$1"
	fi
}

defs="$(probe OPAL_KEY_KEY_TYPE 'offsetof(struct opal_key, key_type)')"
defs="$defs$(probe OPAL_LOCK_UNLOCK_FLAGS 'offsetof(struct opal_lock_unlock, flags)')"
defs="$defs$(probe OPAL_SAVE_FOR_LOCK 'OPAL_SAVE_FOR_LOCK')"
defs="$defs$(probe OPAL_PRESERVE 'OPAL_PRESERVE')"

# shellcheck disable=SC2086 # $defs is a list of -D flags
$cc -std=c11 -Wall -Wextra -Werror -O0 $defs -o "$out/abi-check" "$here/abi-check.c"
echo "$out/abi-check"
