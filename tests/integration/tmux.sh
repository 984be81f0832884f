# tmux.sh: the real console driven through a private tmux server, for the
# console tests (sourced after lib.sh). Sets SOCK and T (the tmux command
# for that server), kills the server with the test's other leftovers.
#
#   CONSOLE_ARGS=(--redis "$R")   arguments every console() gets first
#   CONSOLE_ENV=(NAME=VALUE ...)  environment every console() gets
#   COLS_ / ROWS_                 the terminal's size (default 100x30)
#   console [NAME=VALUE...] [--] [ARGS...]
#                                 starts the console (tasker) in a new
#                                 server; leading NAME=VALUE words are its
#                                 environment, the rest its arguments
#   shell COMMAND                 a shell command line in a new server
#   screen / screen_esc           what the pane shows (with escapes)
#   screen_has / screen_lacks TEXT, screen_re / screen_lacks_re REGEX
#   row N, row_has N REGEX, row_lacks N REGEX     line N (1 = the top)
#   type_text TEXT, key KEY...    typing (literal), keys (tmux names)
#   dump                          the screen, as TAP comments
#   session_gone                  the console's session has ended

SOCK="tasker-test-$$"
T=(tmux -L "$SOCK" -f /dev/null)
CONSOLE_ARGS=()
CONSOLE_ENV=()

cleanup_tmux() { "${T[@]}" kill-server 2>/dev/null; }
trap 'cleanup_tmux; cleanup' EXIT

tmux_fresh() {
	"${T[@]}" kill-server 2>/dev/null
	wait_until 10 bash -c "! tmux -L $SOCK has-session 2>/dev/null"
}

console() {
	local envs=()
	while [ $# -gt 0 ] && [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	tmux_fresh
	local try
	for try in 1 2 3; do
		"${T[@]}" new-session -d -x "${COLS_:-100}" -y "${ROWS_:-30}" -s main \
			env LC_ALL=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME="$TMP/state" \
			XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$PM2_HOME" "${CONSOLE_ENV[@]}" \
			"${envs[@]}" "$TASKER" "${CONSOLE_ARGS[@]}" "$@" && return 0
	done
	return 1
}
shell() {
	tmux_fresh
	"${T[@]}" new-session -d -x "${COLS_:-100}" -y "${ROWS_:-30}" -s main bash -c "$1"
}
screen() { "${T[@]}" capture-pane -p -t main 2>/dev/null; }
screen_esc() { "${T[@]}" capture-pane -e -p -t main 2>/dev/null; }
screen_has() { screen | grep -q -- "$1"; }
screen_lacks() { ! screen | grep -q -- "$1"; }
screen_re() { screen | grep -qE -- "$1"; }
screen_lacks_re() { ! screen | grep -qE -- "$1"; }
row() { screen | sed -n "${1}p"; }
row_has() { row "$1" | grep -qE -- "$2"; }
row_lacks() { ! row "$1" | grep -qE -- "$2"; }
type_text() { "${T[@]}" send-keys -t main -l -- "$1"; }
key() { "${T[@]}" send-keys -t main "$@"; }
dump() { echo "# screen:"; screen | sed 's/^/#   /'; }
session_gone() { ! "${T[@]}" has-session 2>/dev/null; }
