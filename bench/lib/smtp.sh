# bench/lib/smtp.sh: sourced by bench/run. The inbound suites: plain with
# smtp-source (reused and new connections), TLS with smtpload (STARTTLS
# reused / new / new with resumption, implicit TLS new), latency under load
# (smtpload -q), and sealmail with 1 and 2 dispatchers. Rounds alternate
# Postfix, sealmail and the ceiling (a no-disk sink); every figure goes to
# $ROWS for the one table (lib/benchtable.py).

# say_round JSON ROW ROUND WHO: one progress line for a round.
say_round() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
extra = ""
if "client" in d:
    c = d["client"]
    extra = ", %d connections, %d TLS (%d resumed), p50 %.2f p99 %.2f ms" % (
        c.get("connections", 0), c.get("tls", 0), c.get("resumed", 0),
        c.get("p50_ms", 0), c.get("p99_ms", 0))
print("bench: %s round %s %-8s accepted %6.0f msg/s (%.2fs), end-to-end %6.0f msg/s (%.2fs), %d arrived%s"
      % (sys.argv[2], sys.argv[3], sys.argv[4], d["accepted_rate"], d["accepted_s"],
         d["e2e_rate"], d["e2e_s"], d["delivered"], extra))' "$@" >&2
}

# target_of WHO [CEILING_KIND]: the round's arrival counter for WHO: the
# server's Maildir, or the sink's counters (smtp-sink, or a tls-sink).
target_of() {
	case $1 in
	ceiling)
		if [ "${2:-smtp-sink}" = smtp-sink ]; then
			echo "--smtp-sink-out $SMTP_SINK_OUT"
		else
			echo "--sink-counts $2"
		fi
		;;
	*) echo "--maildir $(maildir_of "$1")/new" ;;
	esac
}

# smtp_round TAG WHO ROUND PORT TARGET ARGS...: one recorded round; fails
# the run (with the round's reason) when a message is lost or duplicated.
smtp_round() {
	local tag=$1 who=$2 r=$3 port=$4 target=$5 out
	shift 5
	# shellcheck disable=SC2086 # TARGET is "--option value"
	out=$("${HELP[@]}" round --port "$port" $target --messages "${RMESSAGES:-$MESSAGES}" \
		--sessions "$SESSIONS" --size "$SIZE" --smtpload "$SMTPLOAD" \
		--record "$ROWS" --tag "$tag" --who "$who" --round "$r" "$@") ||
		die "$who: $tag round $r failed"
	say_round "$out" "$tag" "$r" "$who"
	LAST_ROUND=$out
}

who_list() { echo "${SERVERS[@]}" ceiling; }

# empty_maildir WHO ROUND: with BENCH_EMPTY=1, empties the server's Maildir
# new/ before a round and records that in $ROWS, so that totalcheck counts
# what was sent to it from there on.
empty_maildir() {
	local md
	if [ "$EMPTY" != 1 ] || [ "$1" = ceiling ]; then return 0; fi
	md=$(maildir_of "$1")/new
	[ -d "$md" ] || return 0
	find "$md" -mindepth 1 -delete
	"${HELP[@]}" record "$ROWS" emptied "$1" "$2" "emptied_at=$md"
}

run_inbound() {
	local r s fs header files table q sent bad errs queued
	ensure_inbound_servers
	ensure_smtp_sink
	for r in $(seq "$ROUNDS"); do
		for s in $(who_list); do
			# The count is a delta, so new/ is kept by default: deleting 20,000
			# files here slowed the next round on this disk (ext4, discard).
			empty_maildir "$s" "$r"
			settle "$s"
			smtp_round inbound-reused "$s" "$r" "$(port_of_who "$s")" "$(target_of "$s")" --reuse
			[ "$s" = ceiling ] || echo "$LAST_ROUND" >>"$T/results/$s.jsonl"
		done
	done
	for r in $(seq "$ROUNDS"); do
		for s in $(who_list); do
			empty_maildir "$s" "$r"
			settle "$s"
			smtp_round inbound-new "$s" "$r" "$(port_of_who "$s")" "$(target_of "$s")"
		done
		"${HELP[@]}" fsync "$T" "$FSYNC_OPS" >"$T/fsync.json"
		log "disk: $(cat "$T/fsync.json")"
		"${HELP[@]}" record "$ROWS" disk ceiling "$r" \
			$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("fsync_rate=%f rename_rate=%f" % (d["fsync_rate"], d["rename_rate"]))' "$T/fsync.json")
	done

	# checks: nothing lost, nothing stuck, nothing odd in the logs
	if want postfix; then
		q=$(/usr/sbin/postqueue -c "$PFCONF" -p 2>&1 | tail -1)
		sent=$(grep -c 'status=sent' "$PF/postfix.log" || true)
		bad=$(grep -cE 'status=(deferred|bounced)|(fatal|panic|error):' "$PF/postfix.log" || true)
		log "postfix: $sent deliveries logged status=sent, $bad deferred/bounced/errors; queue: $q"
	fi
	if want sealmail; then
		kill -0 "$SEAL_INBOUND_PID" 2>/dev/null || die "sealmail exited during the benchmark"
		errs=$(grep -cE 'level=(error|fatal|crit)' "$SEAL_LOG" || true)
		queued=$(sealmail_queue_files "$T/sealmail-data")
		log "sealmail: $errs error lines in its log; $queued files left under data_dir/queue"
	fi

	fs=$(df -PT "$T" | awk 'NR==2 {print $2}')
	header="benchmark: inbound, $MESSAGES x $size_text, $SESSIONS sessions (smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE -d), median of $ROUNDS, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
	files=()
	for s in "${SERVERS[@]}"; do files+=("$T/results/$s.jsonl"); done
	table=$("${HELP[@]}" table --header "$header" "${files[@]}")
	if want postfix; then
		table+=$'\n'"postfix $PF_VERSION: virtual(8) to Maildir, default fsync"
	fi
	table+=$'\n'"queues and Maildirs on $fs ($TMPBASE); load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$table"
	echo "$table" >"$RESULTS/inbound-latest.txt"
	log "saved $RESULTS/inbound-latest.txt"
}

# port_of_who WHO: the plaintext port of a server or of smtp-sink.
port_of_who() { if [ "$1" = ceiling ]; then echo "$SMTP_SINK_PORT"; else port_of "$1"; fi; }

# The TLS rows: (tag, transport, connection options, messages).
TLS_ROWS=(
	"tls-starttls-reused starttls --reuse"
	"tls-starttls-new starttls -"
	"tls-starttls-resume starttls --resume"
	"tls-implicit-new implicit -"
)

run_tls() {
	local row tag transport opt r s port target n sinks=() starttls_counts implicit_counts
	[ -x "$SMTPLOAD" ] || die "$SMTPLOAD not found: build the smtpload target (make build)"
	ensure_inbound_servers
	start_tls_sink starttls starttls
	STARTTLS_SINK_PORT=$TSINK_PORT starttls_counts=$TSINK_COUNTS
	sinks+=("$TSINK_PID")
	start_tls_sink implicit implicit
	IMPLICIT_SINK_PORT=$TSINK_PORT implicit_counts=$TSINK_COUNTS
	sinks+=("$TSINK_PID")
	for row in "${TLS_ROWS[@]}"; do
		read -r tag transport opt <<<"$row"
		n=$TLS_MESSAGES
		[ "$opt" = --reuse ] && n=$MESSAGES
		[ "$opt" = - ] && opt=
		for r in $(seq "$ROUNDS"); do
			for s in $(who_list); do
				if [ "$s" = ceiling ]; then
					if [ "$transport" = implicit ]; then
						port=$IMPLICIT_SINK_PORT target="--sink-counts $implicit_counts"
					else
						port=$STARTTLS_SINK_PORT target="--sink-counts $starttls_counts"
					fi
				else
					port=$(port_of "$s")
					[ "$transport" = implicit ] && port=$(tls_port_of "$s")
					target=$(target_of "$s")
				fi
				settle "$s"
				RMESSAGES=$n smtp_round "$tag" "$s" "$r" "$port" "$target" \
					--client smtpload --transport "$transport" $opt
			done
		done
	done
	for s in "${sinks[@]}"; do stop_pid "$s"; done
	log "sinks: $(tail -1 "$T/sink-starttls.log"); $(tail -1 "$T/sink-implicit.log")"
}

# max_rate WHO: the server's maximum inbound rate in this run: the median of
# its inbound accepted (reused) rounds, or one calibration round now.
max_rate() {
	local m
	if m=$("${HELP[@]}" median "$ROWS" inbound-reused "$1" accepted_rate); then
		echo "$m"
		return 0
	fi
	settle "$1"
	smtp_round latency-max "$1" 1 "$(port_of "$1")" "$(target_of "$1")" --reuse >&2
	"${HELP[@]}" median "$ROWS" latency-max "$1" accepted_rate
}

run_latency() {
	local s r load rate n
	declare -A max
	[ -x "$SMTPLOAD" ] || die "$SMTPLOAD not found: build the smtpload target (make build)"
	ensure_inbound_servers
	for s in "${SERVERS[@]}"; do
		max[$s]=$(max_rate "$s") || die "no maximum rate for $s"
		log "latency: $s's maximum inbound rate in this run: ${max[$s]} msg/s"
		LATENCY_NOTE+="${LATENCY_NOTE:+, }$s ${max[$s]} msg/s"
	done
	for r in $(seq "$ROUNDS"); do
		for load in 50 90; do
			for s in "${SERVERS[@]}"; do
				rate=$((max[$s] * load / 100))
				[ "$rate" -ge 1 ] || rate=1
				n=$((rate * LATENCY_SECONDS))
				[ "$n" -ge 100 ] || n=100
				settle "$s"
				RMESSAGES=$n smtp_round "latency-$load" "$s" "$r" "$(port_of "$s")" \
					"$(target_of "$s")" --client smtpload --reuse --rate "$rate"
			done
		done
	done
}

run_dispatchers() {
	local d r s port target pids=() conf data
	declare -A dport dmaildir
	ensure_smtp_sink
	want postfix && ensure_inbound_servers
	if want sealmail; then
		for d in "${DISPATCHERS[@]}"; do
			dport[$d]=$("${HELP[@]}" freeport)
			data=$T/sealmail-disp$d
			conf=$T/sealmail-disp$d.conf
			SM_SERVER="dispatchers = $d" sealmail_config "$conf" "$data" "${dport[$d]}"
			sealmail_start "$conf" "$data" "${dport[$d]}" "$T/sealmail-disp$d.log"
			pids+=("$SEAL_PID")
			dmaildir[$d]=$data/mail/example.test/user
			log "sealmail with dispatchers = $d on 127.0.0.1:${dport[$d]}"
		done
	fi
	for r in $(seq "$ROUNDS"); do
		if want postfix; then
			settle postfix
			smtp_round dispatchers postfix "$r" "$PF_PORT" "$(target_of postfix)" --reuse
		fi
		if want sealmail; then
			for d in "${DISPATCHERS[@]}"; do
				settle sealmail "$T/sealmail-disp$d"
				smtp_round "dispatchers-$d" sealmail "$r" "${dport[$d]}" \
					"--maildir ${dmaildir[$d]}/new" --reuse
			done
		fi
		smtp_round dispatchers ceiling "$r" "$SMTP_SINK_PORT" "$(target_of ceiling)" --reuse
	done
	for s in "${pids[@]}"; do stop_pid "$s"; done
}
