# bench/lib/resources.sh: sourced by bench/run. What a message or a
# connection costs sealmail: the memory of idle connections (smtpload -i,
# half plain, half TLS; RSS of every process of the server) and the
# instructions per inbound message (valgrind --tool=callgrind over every
# process, two message counts, the difference). Postfix needs a process per
# connection and its processes are hard to run under valgrind: "n/a".

# raise_nofile N: the open-file limit of this shell and what it starts, to
# N (the hard limit too when it is lower and this process may raise it).
raise_nofile() {
	local hard
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$1" ]; then
		ulimit -Hn "$1" 2>/dev/null ||
			die "the open-file limit is $hard and cannot be raised to $1 here: set BENCH_IDLE_CONNECTIONS lower"
	fi
	ulimit -Sn "$1"
}

run_memory() {
	local r port tport data conf out limits
	want sealmail || { log "memory: sealmail only, skipped (BENCH_ONLY=$ONLY)"; return 0; }
	[ -x "$SMTPLOAD" ] || die "$SMTPLOAD not found: build the smtpload target (make build)"
	# one dispatcher may hold every connection
	raise_nofile $((IDLE + 1000))
	# every connection comes from 127.0.0.1 and stays idle after its EHLO
	limits="connections = $((IDLE + 100))
connections_per_client = $((IDLE + 100))
helo_timeout = 3600
command_timeout = 3600
tls_handshake_timeout = 300"
	for r in $(seq "$ROUNDS"); do
		port=$("${HELP[@]}" freeport)
		tport=$("${HELP[@]}" freeport)
		data=$T/sealmail-mem$r
		conf=$T/sealmail-mem$r.conf
		SM_TLS_PORT=$tport SM_LIMITS=$limits sealmail_config "$conf" "$data" "$port"
		sealmail_start "$conf" "$data" "$port" "$T/sealmail-mem$r.log"
		"${HELP[@]}" waitport "$tport" 30 "$SEAL_PID" --tls || die "sealmail's implicit-TLS listener did not answer"
		[ "$IDLE_TLS" = starttls ] && tport=$port
		out=$("${HELP[@]}" idle --smtpload "$SMTPLOAD" --pid "$SEAL_PID" --plain-port "$port" \
			--tls-port "$tport" --transport "$IDLE_TLS" --n "$IDLE" --round "$r" \
			--record "$ROWS") || die "memory round $r failed (log: $T/sealmail-mem$r.log)"
		python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("bench: memory round %s: %d idle connections: RSS %d KiB -> %d KiB (plain) -> %d KiB (TLS): %.1f KiB per connection (plain %.1f, TLS %.1f)" % (sys.argv[2], d["connections"], d["rss_base_kib"], d["rss_plain_kib"], d["rss_all_kib"], d["per_conn_kib"], d["per_plain_kib"], d["per_tls_kib"]))' "$out" "$r" >&2
		stop_pid "$SEAL_PID"
		rm -rf "$data"
	done
}

install_valgrind() {
	log "installing Debian's valgrind package (for the instructions row)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends valgrind >"$T/apt-valgrind.log" 2>&1 ||
		{ apt-get update -q >>"$T/apt-valgrind.log" 2>&1 &&
			apt-get install -y -q --no-install-recommends valgrind >>"$T/apt-valgrind.log" 2>&1; } ||
		{ tail -20 "$T/apt-valgrind.log" >&2; die "apt-get install valgrind failed"; }
}

# wait_gone TAG SECONDS: polls until no process names TAG in its command
# line (valgrind writes its output as each process exits).
wait_gone() {
	local i
	for i in $(seq $(($2 * 10))); do
		[ -z "$("${HELP[@]}" ourpids --skip $$ "$1")" ] && return 0
		sleep 0.1
	done
	die "processes of $1 still running after $2 s: $("${HELP[@]}" ourpids --skip $$ "$1" | tr '\n' ' ')"
}

# callgrind_sealmail N: sealmail under callgrind (as an unprivileged user,
# so no role chroots away from its output file), N messages in with
# smtp-source -d; sets IR to the instructions summed over every process.
callgrind_sealmail() {
	local n=$1 d=$T/callgrind-sealmail-$1 data=$T/sealmail-cg-$1 conf=$T/sealmail-cg-$1.conf
	local port procs user=sealmail
	getent passwd sealmail >/dev/null || user=nobody
	mkdir -p "$d" "$data"
	chmod 777 "$d"
	chown "$user:" "$data"
	port=$("${HELP[@]}" freeport)
	sealmail_config "$conf" "$data" "$port"
	SM_WAIT=300 sealmail_start "$conf" "$data" "$port" "$T/sealmail-cg-$n.log" \
		setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$d/callgrind.out.%p"
	RMESSAGES=$n smtp_round instructions-run sealmail "$n" "$port" \
		"--maildir $data/mail/example.test/user/new" --reuse
	procs=$("${HELP[@]}" rss "$SEAL_PID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"])')
	forget_pid "$SEAL_PID"
	kill -TERM "$SEAL_PID"
	wait_gone "$conf" 300
	wait "$SEAL_PID" 2>/dev/null || true
	IR=$("${HELP[@]}" irsum "$d" --min-files "$procs") || die "callgrind of sealmail: no total"
	IR=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ir"])' "$IR")
}

# callgrind_sink N: the same for smtp-sink (one process), the ceiling; sets IR.
callgrind_sink() {
	local n=$1 d=$T/callgrind-sink-$1 port pid
	mkdir -p "$d"
	chmod 777 "$d"
	port=$("${HELP[@]}" freeport)
	# unprivileged from the start: callgrind creates its output file before
	# smtp-sink would drop root, and could not write it afterwards
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		valgrind --tool=callgrind --callgrind-out-file="$d/callgrind.out.%p" \
		"$SMTP_SINK" -c "127.0.0.1:$port" 1024 </dev/null >"$d/sink.out" 2>"$d/sink.err" &
	pid=$!
	BG_PIDS+=("$pid")
	"${HELP[@]}" waitport "$port" 300 "$pid" || die "smtp-sink under valgrind did not answer"
	RMESSAGES=$n smtp_round instructions-run ceiling "$n" "$port" \
		"--smtp-sink-out $d/sink.out" --reuse
	forget_pid "$pid"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	IR=$("${HELP[@]}" irsum "$d" --min-files 1) || die "callgrind of smtp-sink: no total"
	IR=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ir"])' "$IR")
}

run_instructions() {
	local small big who a b
	want sealmail || { log "instructions: sealmail only, skipped (BENCH_ONLY=$ONLY)"; return 0; }
	command -v valgrind >/dev/null || install_valgrind
	command -v setpriv >/dev/null || die "setpriv is needed (Debian package util-linux)"
	read -r small big <<<"$INSTR_MESSAGES"
	for who in sealmail ceiling; do
		if [ "$who" = sealmail ]; then
			callgrind_sealmail "$small"
			a=$IR
			callgrind_sealmail "$big"
			b=$IR
		else
			callgrind_sink "$small"
			a=$IR
			callgrind_sink "$big"
			b=$IR
		fi
		log "instructions: $who: $a Ir for $small messages, $b Ir for $big: $(((b - a) / (big - small))) per message"
		"${HELP[@]}" record "$ROWS" instructions "$who" 1 "ir_small=$a" "ir_big=$b" \
			"ir_per_msg=$(((b - a) / (big - small)))"
	done
}
