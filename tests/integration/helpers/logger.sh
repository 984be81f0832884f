#!/usr/bin/env bash
# A task for test_logs.sh: prints known lines on stdout and stderr, so that
# what `logs` answers can be checked against them. Run by PM2 directly.
#   logger.sh lines FIFO  out-1..out-50, err-1..err-20; once a line is
#                         written to FIFO, late-1, late-2 and late-err (stderr)
#   logger.sh odd         a line of 5000 x, a line with escape sequences
#   logger.sh big         100000 lines (about 6 MB), then big-last
#   logger.sh tick        tick-N every 0.2 s, for ever
case $1 in
lines)
	i=1
	while [ $i -le 50 ]; do echo "out-$i"; i=$((i + 1)); done
	i=1
	while [ $i -le 20 ]; do echo "err-$i" >&2; i=$((i + 1)); done
	read -r _ <"$2" # blocks until the test writes its line
	echo late-1
	echo late-2
	echo late-err >&2
	;;
odd)
	printf 'long:%s\n' "$(head -c 5000 /dev/zero | tr '\0' x)"
	printf 'esc:\033[31mred\033[0m\n'
	echo odd-end
	;;
big)
	yes 'a line of the huge log, sixty bytes long, give or take....' | head -n 100000
	echo big-last
	;;
tick)
	i=1
	# The pace of the task's own output: a read on a pipe nobody writes,
	# given up after 0.2 s.
	exec 3<> <(:)
	while :; do
		echo "tick-$i"
		i=$((i + 1))
		read -r -t 0.2 -u 3 _ || :
	done
	;;
esac
exec sleep 600
