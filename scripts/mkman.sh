#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the agentgw(1) man page to stdout, made from the binary's own help
# texts: `agentgw --help` for the verb list, then `VERB --help` and, for
# verbs with subverbs, `VERB SUB --help`, each as it prints. So the page
# says exactly what --help says. Usage: scripts/mkman.sh build/agentgw > agentgw.1
set -eu
bin=${1:-build/agentgw}
esc() { # help text -> roff: backslashes, and lines starting with . or '
	sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
}
words() { # section name: the words listed under "section:" in a help text
	awk -v s="$1" '$0 == s ":" { on = 1; next } /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}
version=$("$bin" version | awk '{ print $2 }')
cat <<ROFF
.TH AGENTGW 1 "" "agentgw $version" "User Commands"
.SH NAME
agentgw \\- policy-enforcing network and filesystem gateway for AI agents in microvms
.SH SYNOPSIS
.B agentgw
.I VERB
.RI [ ARGS ...]
.SH DESCRIPTION
ROFF
"$bin" --help | sed '1,2d' | awk '/^verbs:/ { exit } { print }' | esc
echo ".PP"
echo "Exit status: 0 ok, 1 runtime failure, 2 usage or policy error."
echo "Errors are one line on stderr, with file:line:col where there is one."
echo ".SH VERBS"
for verb in $("$bin" --help | words verbs); do
	case $verb in help | version) continue ;; esac
	echo ".SS $verb"
	echo ".nf"
	"$bin" "$verb" --help 2>&1 | esc
	echo ".fi"
	for sub in $("$bin" "$verb" --help 2>/dev/null | words subverbs); do
		echo ".TP"
		echo ".B $verb $sub"
		echo ".nf"
		"$bin" "$verb" "$sub" --help 2>&1 | esc
		echo ".fi"
	done
done
cat <<'ROFF'
.SH FILES
.TP
.I /run/agentgw/<name>/
a running sandbox's state ($AGENTGW_RUN_DIR)
.TP
.I /var/lib/agentgw/
accelerator verdict and the record of each sandbox's audit database ($AGENTGW_STATE_DIR)
.SH SEE ALSO
.BR sqlite3 (1),
README.md, docs/policy.md, docs/audit.md and docs/sandboxes.md in the source tree.
ROFF
