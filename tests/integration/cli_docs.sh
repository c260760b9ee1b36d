#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Shell completion and the man page come from the help texts (issue 18,
# item 9): `agentgw completion bash` is valid bash and completes verbs,
# subverbs, options and values as --help lists them; the zsh script is the
# same function through bashcompinit (checked with zsh -n when zsh is
# installed); scripts/mkman.sh makes a page groff renders without warnings
# that holds every verb's usage line. No root needed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
[ -x "$AGENTGW" ] || { echo "FAIL: $AGENTGW not built"; exit 1; }
command -v groff >/dev/null || { echo "SKIP: groff not installed"; exit 77; }
fails=0
check() { # description, command...
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
dir=$(mktemp -d /tmp/agw-cli-docs-XXXXXX)
trap 'rm -rf "$dir"' EXIT

"$AGENTGW" completion bash >"$dir/c.bash"
check "completion bash: exit 0, valid bash" bash -n "$dir/c.bash"
check "completion with no shell: exit 2" sh -c "'$AGENTGW' completion >/dev/null 2>&1; [ \$? = 2 ]"
complete_words() { # words of the command line; prints COMPREPLY
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _agentgw; echo "${COMPREPLY[*]}"' _ "$dir/c.bash" "$AGENTGW" "$@"
}
check "verbs" [ "$(complete_words au)" = audit ]
check "every verb of --help" [ "$(complete_words "" | wc -w)" = "$("$AGENTGW" --help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/' | wc -l)" ]
check "audit subverbs" [ "$(complete_words audit "")" = "query tail verify prune stats export" ]
check "policy subverbs" [ "$(complete_words policy "")" = "check explain suggest reload" ]
check "image subverbs from its usage" [ "$(complete_words image "" | tr " " "\n" | sort | tr "\n" " ")" = "build ls path rm " ]
check "options from the subverb's help" [ "$(complete_words audit query --de)" = --decision ]
check "--kind values" [ "$(complete_words audit stats --kind "")" = "dns net http fs exec lifecycle policy" ]
check "--accel values" [ "$(complete_words up --accel "")" = "auto kvm tcg" ]
check "completion shells" [ "$(complete_words completion "")" = "bash zsh" ]
"$AGENTGW" completion zsh >"$dir/c.zsh"
check "completion zsh: bashcompinit and the same function" sh -c "grep -q bashcompinit '$dir/c.zsh' && grep -q 'complete -F _agentgw agentgw' '$dir/c.zsh'"
if command -v zsh >/dev/null; then
	check "completion zsh: valid zsh" zsh -n "$dir/c.zsh"
fi

scripts/mkman.sh "$AGENTGW" >"$dir/agentgw.1"
check "mkman.sh: exit 0" [ -s "$dir/agentgw.1" ]
groff -man -Tutf8 -ww "$dir/agentgw.1" >"$dir/man.txt" 2>"$dir/groff.err"
check "groff renders it without warnings" [ ! -s "$dir/groff.err" ]
missing=
for v in $("$AGENTGW" --help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	case $v in help | version) continue ;; esac
	u=$("$AGENTGW" "$v" --help 2>&1 | head -1)
	grep -qF -- "$u" "$dir/man.txt" || missing="$missing $v"
done
check "every verb's usage line is in the page${missing:+ (missing:$missing)}" [ -z "$missing" ]
check "subverbs too (audit query)" grep -qF "usage: agentgw audit query" "$dir/man.txt"
[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all completion and man page checks passed"
