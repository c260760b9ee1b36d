#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The filesystem promises of every example policy with a filesystem section
# (examples/*.yaml), through a real guest's /workspace (issue 12): renames
# and hard links must hold the rules for what they really do. One sandbox
# per policy (its rules, enforced, on a temporary --workspace), one guest
# shell running every attempt:
#   - mv cfg .git/config (replacing .git/config by rename);
#   - mv .git g2, write g2/hooks/pre-commit, chmod +x, mv g2 .git (the hook
#     plant), and mv -T of a host-made g3 (with hooks/pre-commit) onto .git;
#   - ln .git/config src/y then a write of src/y; ln -f src/x .git/config
#     then a write of src/x; a symlink in place of .git/config;
#   - moves of directories holding .env files (in strict.yaml out of src/
#     into tests/, decided by other rules), and of .env itself;
#   - a write through src/hl, a second name of .git/config made on the host;
#   - .git/commondir, which would point git at another config and hooks;
#   - a chown to another user (refused, and recorded);
#   - a normal directory and file rename that must still work.
# Each is checked three ways: the guest saw the failure, the host files are
# unchanged, and the audit database has the deny row and no allow row for
# the forbidden operation. Every policy runs on both /workspace transports
# (virtio-fs and 9P; FS_TRANSPORTS="9p" picks one): they must decide and
# record alike.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/e2e.sh
e2e_require sqlite3

e2e_netns fsb

# The attempts, in the guest; each prints NAME=ok or NAME=fail.
GUEST='
cd /workspace || exit 9
t() { n=$1; shift; if sh -c "$*" >/dev/null 2>&1; then echo "$n=ok"; else echo "$n=fail"; fi; }
t write_host_link "echo evil >>src/hl"
t mv_cfg_over_config "mv cfg .git/config"
t swap_git_out_and_plant "mv .git g2 && echo evil >g2/hooks/pre-commit && chmod +x g2/hooks/pre-commit && mv g2 .git"
t move_g3_onto_git "mv -T g3 .git"
t move_hooks_out "mv .git/hooks hooks2"
t link_config_then_write "ln .git/config src/y && echo evil >>src/y"
t move_env_out "mv proj/.env proj/env"
t move_dir_with_env_to_tests "mv src/d tests/d"
t rename_dir_in_src "mv src/a src/b"
t rename_file_in_src "mv src/x src/x2 && mv src/x2 src/x"
t move_dir_with_env "mv proj proj2"
t read_moved_env "cat proj2/.env"
t lnf_x_over_config "ln -f src/x .git/config && echo evil >src/x"
t symlink_as_config "rm -f .git/config; ln -s ../src/x .git/config"
t create_config "echo evil >.git/config"
t write_commondir "echo ../evil >.git/commondir"
t chown_other "chown 4242 src/x"
exit 0
'

# run_policy EXAMPLE: boots one sandbox with its filesystem rules
# (enforced) on a fresh workspace; leaves the guest's output in $d/out.
run_policy() {
	local ex=$1 tr=$2 name
	d=$tmp/$tr-$(basename "$ex" .yaml)
	ws=$d/ws
	mkdir -p "$ws/.git/hooks" "$ws/g3/hooks" "$ws/src/a" "$ws/src/d" "$ws/tests" "$ws/proj"
	echo orig >"$ws/.git/config"
	ln "$ws/.git/config" "$ws/src/hl" # a second name made on the host
	echo evil >"$ws/cfg"
	echo evil >"$ws/g3/hooks/pre-commit"
	echo x >"$ws/src/x"
	echo f >"$ws/src/a/f"
	echo S=1 >"$ws/src/d/.env"
	echo S=2 >"$ws/proj/.env"
	chown -R nobody: "$ws"
	# Its rules, enforced; a small VM; the audit database beside the copy.
	sed -e 's/^mode: .*/mode: enforce/' \
		-e 's/^sandbox: .*/sandbox: { vcpus: 1, memory: 512M, image: default }/' \
		"$ex" >"$d/p.yaml"
	name=fsb$$
	name=${name:0:10}$(basename "$ex" | cut -c1-2)
	ip netns exec "$ns" timeout 300 "$AGENTGW" up --policy "$d/p.yaml" --name "$name" \
		--fs-transport "$tr" --workspace "$ws" -- sh -c "$GUEST" >"$d/out" 2>"$d/err"
	echo "== $ex over $tr (exit $?)"
	grep '=' "$d/out" | tr '\n' ' '
	echo
}

res() { grep -qx "$1=$2" "$d/out"; }
q() { sqlite3 -cmd '.timeout 3000' "$d/agentgw-audit.db" "$1" 2>/dev/null; }
rows() { q "select count(*) from event where kind='fs' and $1"; }
# refused NAME WHAT: the guest saw a failure
refused() { check "$ex over $tr: guest: $2 fails" res "$1" fail; }
works() { check "$ex over $tr: guest: $2 works" res "$1" ok; }
# no_allow WHERE WHAT: no allow (or would_deny) row for the forbidden op
no_allow() { check "$ex over $tr: audit: no allow row for $2" [ "$(rows "decision in ('allow','would_deny') and $1")" = 0 ]; }
has_deny() { check "$ex over $tr: audit: deny row for $2" [ "$(rows "decision='deny' and $1")" -ge 1 ]; }
same() { check "$ex over $tr: host: $1 is '$2'" [ "$(cat "$ws/$1" 2>/dev/null)" = "$2" ]; }
absent() { check "$ex over $tr: host: no $1" [ ! -e "$ws/$1" ] && [ ! -L "$ws/$1" ]; }
# .git/config after the ln -f / symlink / create attempts: deleted (the
# policy allows delete) or the original, never another file's name.
config_safe() {
	check "$ex over $tr: host: .git/config is gone or the original, never src/x or a symlink" \
		sh -c "[ ! -L '$ws/.git/config' ] && { [ ! -e '$ws/.git/config' ] ||
			{ [ \"\$(cat '$ws/.git/config')\" = orig ] &&
			  [ \"\$(stat -c %i '$ws/.git/config')\" != \"\$(stat -c %i '$ws/src/x')\" ]; }; }"
}

# The checks every policy shares: git hooks and .git/config.
git_checks() {
	refused write_host_link "a write of src/hl, a host-made second name of .git/config"
	same src/hl orig
	has_deny "op='open' and target='src/hl'" "the write of src/hl"
	refused mv_cfg_over_config "mv cfg .git/config"
	no_allow "op='rename' and target='cfg'" "mv cfg .git/config"
	refused swap_git_out_and_plant "mv .git g2, plant a hook, mv g2 .git"
	has_deny "op='rename' and target='.git'" "mv .git g2"
	no_allow "op='rename' and target='.git'" "mv .git g2"
	absent g2
	absent .git/hooks/pre-commit
	refused move_g3_onto_git "mv g3 .git"
	no_allow "op='rename' and target='g3'" "mv g3 .git"
	same g3/hooks/pre-commit evil
	refused move_hooks_out "mv .git/hooks hooks2"
	absent hooks2
	refused link_config_then_write "ln .git/config src/y; write src/y"
	absent src/y
	no_allow "op='link' and target='src/y'" "ln .git/config src/y"
	refused lnf_x_over_config "ln -f src/x .git/config; write src/x"
	no_allow "op='link' and target='.git/config'" "ln src/x .git/config"
	refused create_config "echo evil >.git/config"
	no_allow "op='symlink' and target='.git/config'" "ln -s ../src/x .git/config"
	config_safe
	refused write_commondir "echo ../evil >.git/commondir (git would take config and hooks from evil/)"
	absent .git/commondir
}

n=0
for tr in ${FS_TRANSPORTS:-virtiofs 9p}; do
for ex in examples/*.yaml; do
	grep -q '^filesystem:' "$ex" || continue
	n=$((n + 1))
	run_policy "$ex" "$tr"
	if [ "$(grep -c '=' "$d/out")" != 17 ]; then
		bad "$ex over $tr: the guest ran every attempt"
		cat "$d/out"
		tail -20 "$d/err"
		continue
	fi
	git_checks
	refused move_env_out "mv proj/.env proj/env"
	absent proj/env
	case $ex in
	*strict.yaml)
		# src/** and tests/** are different rules: a directory (here
		# holding a .env) does not move between them
		refused move_dir_with_env_to_tests "mv src/d tests/d"
		has_deny "op='rename' and target='src/d'" "mv src/d tests/d"
		same src/d/.env S=1
		absent tests/d
		;;
	*)
		# a directory holding a .env moves; the .env stays denied there
		works move_dir_with_env "mv proj proj2"
		same proj2/.env S=2
		refused read_moved_env "cat proj2/.env"
		;;
	esac
	refused chown_other "chown 4242 src/x"
	has_deny "op='setattr' and target='src/x' and detail like '%4242%'" "the refused chown"
	works rename_dir_in_src "mv src/a src/b"
	same src/b/f f
	works rename_file_in_src "mv src/x src/x2; mv src/x2 src/x"
	check "$ex over $tr: audit: the allowed rename is an allow row" \
		[ "$(rows "op='rename' and target='src/a' and decision='allow'")" -ge 1 ]
done
done
check "every example with a filesystem section was run" [ "$n" -ge 3 ]
e2e_finish
