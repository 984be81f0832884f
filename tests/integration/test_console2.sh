#!/usr/bin/env bash
# The console, second pass (issue 12), driven through a private tmux server
# against a real redis-server, a real PM2 daemon (private PM2_HOME) and a
# real executor: the full-screen log view (l).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"

CONSOLE_ARGS=(--redis "$R")

# --- the log view of a local task ------------------------------------------------
# gen writes one stderr line, then (a second later, so PM2's stamps order
# them) 30,000 stdout lines, then a stderr marker, then a tick every 200 ms.
# PM2 stamps each line (--time): the view merges the two files by stamp.
cat >"$TMP/gen.js" <<'JS'
console.error('err early');
setTimeout(() => {
	let s = '';
	for (let i = 1; i <= 30000; i++) s += `out line ${i}\n`;
	process.stdout.write(s);
	setTimeout(() => {
		console.error('err marker');
		let t = 0;
		setInterval(() => console.log(`tick ${++t}`), 200);
	}, 1100);
}, 1100);
JS
# big writes 70,000 lines: more than the view keeps (50,000).
cat >"$TMP/big.js" <<'JS'
let s = '';
for (let i = 1; i <= 70000; i++) s += `big ${i}\n`;
process.stdout.write(s);
setInterval(() => {}, 1 << 30);
JS
"$PM2" start "$TMP/gen.js" --time --name gen >/dev/null 2>&1
"$PM2" start "$TMP/big.js" --name big >/dev/null 2>&1
wait_until 20 file_has "$PM2_HOME/logs/gen-error.log" "err marker"
wait_until 20 file_has "$PM2_HOME/logs/big-out.log" "big 70000"
# The executor after the PM2 daemon is up: two starting it at once race.
bg "$TASKER" exec --redis "$R" >"$TMP/exec.log" 2>&1
wait_until 20 file_has "$TMP/exec.log" "ready: listening"

console --
check "the console starts" wait_until 15 screen_has "Redis up"
type_text "/filter gen"
key Enter
check "gen is the one row shown" wait_until 15 screen_re "gen +online"
key l
check "l opens the log view of gen" wait_until 10 screen_has "logs of gen"
check "it opens at the end, following" wait_until 10 screen_has "following (F)"
check "the stderr marker shows, marked err" wait_until 10 screen_re "^err│.*err marker"
check "a stdout line shows, marked out" wait_until 10 screen_re "^out│.*tick [0-9]+"
check "the position says how many lines it holds" screen_re "logs of gen · [0-9]+-[0-9]+/3[0-9]{4}"
t1=$(screen | grep -oE "tick [0-9]+" | tail -n 1)
check "following: newer lines come in at the bottom" wait_until 10 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -oE 'tick [0-9]+' | tail -n 1 | grep -vqx '$t1'"

key g
check "g goes to the first line: 1-26" wait_until 10 screen_re "· 1-26/"
check "g stops following" screen_lacks "following (F)"
check "stdout and stderr merged by PM2's stamps: err early comes first" row_has 3 "^err│.*err early"
check "then out line 1" row_has 4 "^out│.*out line 1$"
check "the last stdout line sits before the later stderr line" bash -c "grep -n 'out line 30000\$' '$PM2_HOME/logs/gen-out.log' >/dev/null"
key NPage
check "PgDn pages down: 26-51" wait_until 10 screen_re "· 26-51/"
check "the window shows those lines" screen_re "out line 49$"
key PPage
check "PgUp pages up: 1-26" wait_until 10 screen_re "· 1-26/"
key G
check "G goes to the end" wait_until 10 screen_re "tick [0-9]+"
check "G alone does not follow" screen_lacks "following (F)"

# Search: /, n and N, the matches highlighted.
key g
wait_until 10 screen_re "· 1-26/"
key /
check "/ opens the search prompt" wait_until 10 screen_has "Enter search"
type_text "line 1499"
key Enter
check "the search moves to the first match: out line 1499 at the top" wait_until 10 screen_re "· 1500-"
check "it shows at the top row" row_has 3 "out line 1499$"
check "the search is named in the title" screen_has "search: line 1499"
check "the match is in reverse video" bash -c "tmux -L $SOCK capture-pane -e -p -t main | sed -n 3p | grep -qE $'\\e\\\\[[0-9;]*7m''line 1499'"
key n
check "n goes to the next match (out line 14990)" wait_until 10 row_has 3 "out line 14990$"
key n
check "n again: out line 14991" wait_until 10 row_has 3 "out line 14991$"
key N
check "N goes back (out line 14990)" wait_until 10 row_has 3 "out line 14990$"
key /
type_text "no such text anywhere"
key Enter
check "a search without a match says so" wait_until 10 screen_has "pattern not found below: no such text anywhere"
check "and the window stays" row_has 3 "out line 14990$"
key F
check "F follows again, at the end" wait_until 10 screen_has "following (F)"
check "following shows the newest tick" wait_until 10 screen_re "tick [0-9]+"
key q
check "q goes back to the table" wait_until 10 screen_has "Status feed"

# More lines than the view keeps: the newest 50,000.
type_text "/filter big"
key Enter
wait_until 15 screen_re "big +online"
key l
check "a 70,000-line log holds the newest 50,000" wait_until 10 screen_re "logs of big · 49975-50000/50000"
check "its last line shows" screen_re "out│big 70000$"
key g
check "the oldest kept is line 20001" wait_until 10 row_has 3 "out│big 20001$"
key Escape
check "Esc goes back too" wait_until 10 screen_has "Status feed"

# --- secrets in the history ------------------------------------------------------
type_text "/filter"
key Enter
type_text "/start --task=sec --command=\"sleep 600\" --env_TOKEN=hunter2 --env_PASS = \"two words\" --env_EMPTY= --tag=x"
key Enter
check "the line with secrets is sent and the task starts" wait_until 20 screen_has "✓ started sec"
check "the task got the real value" bash -c "'$PM2' jlist 2>/dev/null | grep -q hunter2"
H="$TMP/state/tasker/history"
check "the history file has the line, masked" wait_until 10 file_has "$H" '--env_TOKEN=\*\*\* --env_PASS=\*\*\* --env_EMPTY= --tag=x'
check "the history file never holds the values" bash -c "! grep -qE 'hunter2|two words' '$H'"
key /
key Up
check "recalled from the history, the line shows masked" wait_until 10 screen_has '--env_TOKEN=\*\*\*'
key C-g
wait_until 10 screen_lacks "Enter send"
key ?
wait_until 10 screen_has "tasker help"
key End # the help scrolls: the command bar's keys are further down
check "the help says the history masks --env_ values" wait_until 10 screen_has "keeps --env_ values masked"
key Escape

# --- the live filter, ! to invert, the position -----------------------------------
check "the position shows the selected row of all rows" wait_until 10 screen_re " [123]/3 *$"
key f
check "f opens the bar on /filter" wait_until 10 screen_re "^/filter *$"
type_text "gen"
check "the filter applies as it is typed (no Enter)" wait_until 10 screen_re "table filter: gen \\(1 of 3\\) · 1/1"
check "only gen shows" bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E ' (gen|big|sec) +online' | grep -c . | grep -qx 1"
key BSpace BSpace BSpace
type_text "!gen"
check "! inverts it: every row but gen" wait_until 10 screen_re "table filter: !gen \\(2 of 3\\) · [12]/2"
check "gen is hidden, big and sec show" bash -c "s=\$(tmux -L $SOCK capture-pane -p -t main); ! grep -qE ' gen +online' <<<\"\$s\" && grep -qE ' big +online' <<<\"\$s\" && grep -qE ' sec +online' <<<\"\$s\""
key C-g
check "cancelled, the filter before comes back" wait_until 10 screen_re " [123]/3 *$"
key f
type_text "!sec"
key Enter
check "sent, the filter stays" wait_until 10 screen_re "table filter: !sec \\(2 of 3\\) · [12]/2"
key j
check "the position follows the selection" wait_until 10 screen_re "table filter: !sec \\(2 of 3\\) · 2/2"
type_text "/stat"
check "/ still opens the command bar" wait_until 10 screen_re "^/stat *$"
key C-g
wait_until 10 screen_lacks "Enter send"
type_text '\'
check "\\ opens the filter too" wait_until 10 screen_re "^/filter *$"
key C-g

# --- the mouse ------------------------------------------------------------------------
flag() { "${T[@]}" display -p -t main '#{mouse_standard_flag}#{mouse_sgr_flag}' 2>/dev/null; }
type_text "/filter"
key Enter
wait_until 10 screen_re " [123]/3 *$"
check "the console asks the terminal for SGR mouse reports" wait_until 10 bash -c "[ \"\$(tmux -L $SOCK display -p -t main '#{mouse_standard_flag}#{mouse_sgr_flag}')\" = 11 ]"
# click (press, release) at 1-based column;row: the third row of the table is row 5.
click() { type_text $'\e[<0;'"$1;$2"'M'; type_text $'\e[<0;'"$1;$2"'m'; }
click 30 5
check "a click selects the row under it" wait_until 10 screen_re " 3/3 *$"
type_text $'\e[<64;30;5M'
check "the wheel scrolls the selection up" wait_until 10 screen_re " 1/3 *$"
type_text $'\e[<65;30;5M'
check "and down" wait_until 10 screen_re " 3/3 *$"
col=$(screen | sed -n 2p | grep -ob "NAME" | head -n 1 | cut -d: -f1)
click $((col + 2)) 2
check "a click on the NAME heading sorts by it" wait_until 10 screen_re "NAME▲"
check "the bar says so" screen_has "sorted by"
check "the rows follow: big first" bash -c "tmux -L $SOCK capture-pane -p -t main | sed -n 3p | grep -q ' big '"
click $((col + 2)) 2
check "a second click reverses it" wait_until 10 screen_re "NAME▼"
key /
click 30 5
check "a click while typing puts nothing in the bar" wait_until 10 screen_re "^/ *$"
key C-g
console -- --no-mouse
wait_until 15 screen_has "Redis up"
check "--no-mouse leaves the terminal's mouse alone" bash -c "[ \"\$(tmux -L $SOCK display -p -t main '#{mouse_standard_flag}#{mouse_sgr_flag}')\" = 00 ]"
console TASKER_NO_MOUSE=1 --
wait_until 15 screen_has "Redis up"
check "TASKER_NO_MOUSE=1 too" bash -c "[ \"\$(tmux -L $SOCK display -p -t main '#{mouse_standard_flag}#{mouse_sgr_flag}')\" = 00 ]"

# --- narrow and wide terminals ------------------------------------------------------
"$PM2" start /bin/sleep --name payments-reconciliation-worker-eu-west-1 -- 600 >/dev/null 2>&1
"$PM2" start /bin/false --name bad --max-restarts 1 >/dev/null 2>&1
check "PM2 has an errored task" wait_until 30 bash -c "'$PM2' jlist 2>/dev/null | grep -q '\"status\":\"errored\"'"
COLS_=80 ROWS_=24 console --
wait_until 15 screen_has "Redis up"
check "80x24: the header still shows the errored count" wait_until 15 bash -c "tmux -L $SOCK capture-pane -p -t main | sed -n 1p | grep -q '1 errored'"
check "80x24: the hint line ends with ? help  q quit" bash -c "tmux -L $SOCK capture-pane -p -t main | sed -n 23p | grep -qE '\\? help  q quit *$'"
check "80x24: a long name is cut in the middle" wait_until 10 screen_re "paymen[a-z-]*…[a-z-]*west-1"
COLS_=200 ROWS_=30 console --
wait_until 15 screen_has "Redis up"
check "200 columns: the whole name shows" wait_until 10 screen_has "payments-reconciliation-worker-eu-west-1 "
head200=$(screen | sed -n 2p)
n_at=$(grep -ob "NAME" <<<"$head200" | head -n 1 | cut -d: -f1)
s_at=$(grep -ob "STATUS" <<<"$head200" | head -n 1 | cut -d: -f1)
check "200 columns: NAME is as wide as its longest name, not 130 ($n_at..$s_at)" bash -c "[ $((s_at - n_at)) -le 50 ]"

# --- the theme is remembered ------------------------------------------------------------
type_text "/theme light"
key Enter
check "/theme light says it is remembered" wait_until 10 screen_has "theme light (remembered)"
check "in the state directory" file_has "$TMP/state/tasker/theme" "light"
console --
wait_until 15 screen_has "Redis up"
type_text "/theme"
key Enter
check "a new console starts with the remembered theme" wait_until 10 screen_has "theme light; available"
console -- --theme mono
wait_until 15 screen_has "Redis up"
type_text "/theme"
key Enter
check "--theme still wins" wait_until 10 screen_has "theme mono; available"

finish
