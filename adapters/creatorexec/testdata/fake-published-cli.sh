#!/bin/sh
# A stand-in for the published content-creator CLI (CREATOR_PROFILE=cli) for
# the contract suite: it replays the captured samples beside it, the sample's
# task id replaced by the one it is given, and keeps a task table of its own.
#   FAKE_BEHAVIOUR  completes | fails | refuses (a usage error) | hangs (until killed)
#   FAKE_STATE      its task table: one file per id holding the state
set -u
here=$(dirname "$0")
cmd=${1:-}
[ $# -gt 0 ] && shift
ref=""; prev=""
for a in "$@"; do
	case $prev in --taskId|--task-id|-t) ref=$a ;; esac
	prev=$a
done
notfound() {
	cat "$here/cli-status-notfound.stdout"
	sed "s/test-nonexistent/$ref/g" "$here/cli-status-notfound.stderr" >&2
	exit 1
}
case $cmd in
create)
	if [ "$FAKE_BEHAVIOUR" = refuses ]; then
		printf '❌ 参数错误:\n  • 缺少必需参数: requirements\n' >&2
		exit 1
	fi
	echo running > "$FAKE_STATE/$ref"
	case $FAKE_BEHAVIOUR in
	completes)
		echo completed > "$FAKE_STATE/$ref"
		sed "s/test-cli-001/$ref/g" "$here/cli-create-completed.stdout"
		cat "$here/cli-create-completed.stderr" >&2 ;;
	fails)
		echo failed > "$FAKE_STATE/$ref"
		sed "s/test-fail-001/$ref/g" "$here/cli-create-failed.stdout"
		cat "$here/cli-create-failed.stderr" >&2 ;;
	hangs)
		exec sleep 300 ;;
	esac ;;
status)
	[ -f "$FAKE_STATE/$ref" ] || notfound
	case $(cat "$FAKE_STATE/$ref") in
	completed) sed "s/test-cli-001/$ref/g" "$here/cli-status.stdout" ;;
	failed) sed "s/test-fail-001/$ref/g" "$here/cli-status-fail.stdout" ;;
	*) sed "s/test-cli-001/$ref/g; s/✅ 已完成/🔄 处理中/" "$here/cli-status.stdout" ;;
	esac ;;
result)
	[ -f "$FAKE_STATE/$ref" ] || notfound
	sed "s/test-cli-001/$ref/g" "$here/cli-result.stdout" ;;
cancel)
	[ -f "$FAKE_STATE/$ref" ] || notfound
	echo cancelled > "$FAKE_STATE/$ref"
	echo "✅ 任务已取消: $ref" ;;
*)
	echo "error: unknown command '$cmd'" >&2
	exit 1 ;;
esac
