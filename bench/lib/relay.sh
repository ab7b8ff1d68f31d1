# bench/lib/relay.sh: sourced by bench/run. The relay suite: smtp-source ->
# server -> its SMTP client -> bench/tls-sink on loopback, once per TLS level
# of BENCH_RELAY_TLS (may: a plaintext sink; encrypt: a STARTTLS sink). Each
# round's relay rate goes to $ROWS, with smtp-source -> smtp-sink as the
# ceiling of the inbound half.

# start_sink LEVEL: the sink for one TLS level: may -> plaintext (no
# STARTTLS offered), encrypt -> STARTTLS offered with the run's certificate.
start_sink() {
	local tlsargs=()
	SINK_PORT=$("${HELP[@]}" freeport)
	SINK_COUNTS=$T/sink-$1.counts
	SINK_LOG=$T/sink-$1.log
	[ "$1" = encrypt ] && tlsargs=(-c "$T/cert.pem" -k "$T/key.pem")
	"$SINK" -l "127.0.0.1:$SINK_PORT" -o "$SINK_COUNTS" "${tlsargs[@]}" </dev/null >"$SINK_LOG" 2>&1 &
	SINK_PID=$!
	BG_PIDS+=("$SINK_PID")
	"${HELP[@]}" waitport "$SINK_PORT" 30 "$SINK_PID" || die "the sink did not answer"
	log "sink on 127.0.0.1:$SINK_PORT ($([ "$1" = encrypt ] && echo "STARTTLS offered" || echo "plaintext, no STARTTLS")), counts in $SINK_COUNTS"
}

sink_messages() { sed -n 's/^messages=\([0-9]*\) .*/\1/p' "$SINK_COUNTS"; }

# What to show when a relay round goes wrong: the queue, the sink's
# counters, the log lines that explain a delay.
relay_diagnose() { # SERVER LEVEL
	local - # a diagnosis must not stop half-way ("| head" and SIGPIPE)
	set +e +o pipefail
	log "---- diagnosis: $1, relay $2 ----"
	log "sink counters: $(cat "$SINK_COUNTS" 2>/dev/null)"
	if [ "$1" = postfix ]; then
		log "postfix queue ($(postfix_queue_files "$PFR") files; postqueue -p, first 30 lines):"
		/usr/sbin/postqueue -c "$PFR/conf" -p 2>&1 | head -30 >&2
		log "postfix log: $(grep -c 'status=sent' "$PFR/postfix.log") status=sent, $(grep -c 'status=deferred' "$PFR/postfix.log") status=deferred, $(grep -c 'status=bounced' "$PFR/postfix.log") status=bounced"
		log "postfix log, warnings/errors/deferrals (last 15):"
		grep -E 'warning|error|fatal|panic|status=(deferred|bounced)' "$PFR/postfix.log" | tail -15 >&2
		log "postfix log, last 10 lines:"
		tail -10 "$PFR/postfix.log" >&2
	else
		if kill -0 "$SEAL_PID" 2>/dev/null; then
			log "sealmail queue ($(sealmail_queue_files "$SRDATA") files under data_dir/queue; sealmail queue list, first 40 lines):"
			"$SEALMAIL" queue list -c "$SRCONF" 2>&1 | head -40 >&2
		else
			log "sealmail is not running any more ($(sealmail_queue_files "$SRDATA") files under data_dir/queue)"
		fi
		log "sealmail log: $(grep -c 'event=delivered' "$SRLOG") event=delivered, $(grep -c 'event=deferred' "$SRLOG") event=deferred, $(grep -c 'event=mta-host-failed' "$SRLOG") event=mta-host-failed, $(grep -cE 'level=(error|fatal|crit)' "$SRLOG") errors"
		log "sealmail log, deferrals/host failures/warnings/errors (last 15):"
		grep -E 'event=(deferred|mta-host-failed|bounced|failed)|level=(warn|warning|error|fatal|crit)' "$SRLOG" |
			grep -v 'event=unauthenticated-delivery' | tail -15 >&2
		log "sealmail log, last 10 lines:"
		tail -10 "$SRLOG" >&2
	fi
	log "---- end of diagnosis ----"
}

# After a round: the server's queue must empty and the sink must hold
# exactly the messages sent so far (a late duplicate shows up here).
relay_settle() { # SERVER LEVEL EXPECTED_TOTAL
	local i n got
	for i in $(seq 300); do
		if [ "$1" = postfix ]; then n=$(postfix_queue_files "$PFR"); else n=$(sealmail_queue_files "$SRDATA"); fi
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	if [ "$n" != 0 ]; then
		relay_diagnose "$1" "$2"
		die "$1 (relay $2): $n files still queued 30 s after the sink counted the round's messages"
	fi
	# SIGUSR1: the sink writes its counters at once, as a new file
	local ino
	ino=$(stat -c %i "$SINK_COUNTS")
	kill -USR1 "$SINK_PID" 2>/dev/null
	for i in $(seq 100); do
		[ "$(stat -c %i "$SINK_COUNTS")" != "$ino" ] && break
		sleep 0.05
	done
	got=$(sink_messages)
	if [ "$got" != "$3" ]; then
		relay_diagnose "$1" "$2"
		die "$1 (relay $2): the sink holds $got messages in all, expected $3"
	fi
}

run_relay() {
	local v r s out port total sent bad deliv defer hostfail errs header files table
	build_sink
	ensure_smtp_sink
	for v in "${VARIANTS[@]}"; do
		start_sink "$v"
		want postfix && start_postfix_relay "$v" "$SINK_PORT"
		want sealmail && start_sealmail_relay "$v" "$SINK_PORT"
		total=0
		for r in $(seq "$ROUNDS"); do
			for s in "${SERVERS[@]}"; do
				if [ "$s" = postfix ]; then port=$PFR_PORT; else port=$SR_PORT; fi
				sync
				if ! out=$("${HELP[@]}" round --smtp-source "$SMTP_SOURCE" --port "$port" \
					--sink-counts "$SINK_COUNTS" --rcpt user@relay.test \
					--messages "$MESSAGES" --sessions "$SESSIONS" --size "$SIZE" --reuse \
					--record "$ROWS" --tag "relay-$v" --who "$s" --round "$r"); then
					relay_diagnose "$s" "$v"
					die "$s relay $v round $r failed"
				fi
				echo "$out" >>"$T/results/relay-$v.$s.jsonl"
				total=$((total + MESSAGES))
				python3 -c 'import json,sys; d=json.loads(sys.argv[1]); s=d["sink"]; print("bench: relay %-7s round %s %-8s accepted %6.0f msg/s (%.2fs), relayed %6.0f msg/s (%.2fs), %d at the sink over %d connections, %d TLS handshakes (%d resumed)" % (sys.argv[4], sys.argv[2], sys.argv[3], d["accepted_rate"], d["accepted_s"], d["e2e_rate"], d["e2e_s"], d["delivered"], s["connections"], s["tls"], s["resumed"]))' "$out" "$r" "$s" "$v" >&2
				relay_settle "$s" "$v" "$total"
			done
			# the ceiling: the inbound half alone, into smtp-sink
			smtp_round "relay-$v" ceiling "$r" "$SMTP_SINK_PORT" "$(target_of ceiling)" --reuse
		done

		# checks: nothing lost, nothing stuck, nothing odd in the logs
		if want postfix; then
			sent=$(grep -c 'status=sent' "$PFR/postfix.log" || true)
			bad=$(grep -cE 'status=(deferred|bounced)|(fatal|panic|error):' "$PFR/postfix.log" || true)
			log "postfix relay $v: $sent deliveries logged status=sent, $bad deferred/bounced/errors; $(postfix_queue_files "$PFR") files queued"
			[ "$sent" = $((ROUNDS * MESSAGES)) ] || log "warning: expected $((ROUNDS * MESSAGES)) status=sent lines"
			stop_postfix "$PFR/conf"
		fi
		if want sealmail; then
			kill -0 "$SEAL_PID" 2>/dev/null || { relay_diagnose sealmail "$v"; die "sealmail exited during the benchmark"; }
			deliv=$(grep -c 'event=delivered' "$SRLOG" || true)
			defer=$(grep -c 'event=deferred' "$SRLOG" || true)
			hostfail=$(grep -c 'event=mta-host-failed' "$SRLOG" || true)
			errs=$(grep -cE 'level=(error|fatal|crit)' "$SRLOG" || true)
			log "sealmail relay $v: $deliv event=delivered, $defer event=deferred, $hostfail event=mta-host-failed, $errs error lines; $(sealmail_queue_files "$SRDATA") files queued"
			[ "$deliv" = $((ROUNDS * MESSAGES)) ] || log "warning: expected $((ROUNDS * MESSAGES)) event=delivered lines"
			if [ $((defer + hostfail + errs)) -gt 0 ]; then
				log "sealmail relay $v: first such lines:"
				grep -E 'event=(deferred|mta-host-failed)|level=(error|fatal|crit)' "$SRLOG" | head -5 >&2
			fi
			stop_pid "$SEAL_PID"
		fi
		stop_pid "$SINK_PID"
		log "sink ($v): $(tail -1 "$SINK_LOG")"
	done

	header="benchmark: relay, $MESSAGES x $size_text via smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE -d, to a sink on loopback (bench/tls-sink.c), median of $ROUNDS, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
	files=()
	for v in "${VARIANTS[@]}"; do
		for s in "${SERVERS[@]}"; do files+=("$T/results/relay-$v.$s.jsonl"); done
	done
	table=$("${HELP[@]}" relaytable --header "$header" "${files[@]}")
	if want postfix; then
		table+=$'\n'"postfix $PF_VERSION: relayhost = [127.0.0.1]:sink, smtp_tls_security_level = may|encrypt, default concurrency and connection caching"
		if [ "$PF_TLS_REUSE" = 1 ]; then
			table+=", smtp_tls_connection_reuse = yes"
		else
			table+=" (smtp_tls_connection_reuse = no: a TLS connection carries one message)"
		fi
	fi
	want sealmail && table+=$'\n'"sealmail: [routes] relay.test = 127.0.0.1:sink, [outbound] tls = may|encrypt"
	table+=$'\n'"sink: may = plaintext (no STARTTLS offered), encrypt = STARTTLS, RSA-2048 self-signed; queues on $(df -PT "$T" | awk 'NR==2 {print $2}') ($TMPBASE); load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$table"
	echo "$table" >"$RESULTS/relay-latest.txt"
	log "saved $RESULTS/relay-latest.txt"
}
