# bench/lib/servers.sh: sourced by bench/run. Starts and stops what the
# suites measure: private Postfix instances, sealmail instances, Postfix's
# smtp-sink and bench/tls-sink. Every background process is recorded in
# BG_PIDS, so cleanup can stop what is still running.

BG_PIDS=()

forget_pid() { # PID: no longer ours to stop
	local keep=() p
	for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	BG_PIDS=("${keep[@]}")
}

stop_pid() { # PID: TERM, wait up to 5 s, KILL
	local pid=$1 i
	[ -n "$pid" ] || return 0
	forget_pid "$pid"
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# --- Postfix -----------------------------------------------------------------

# postfix_instance DIR PORT [TLSPORT]: writes DIR/conf/master.cf (only smtpd
# on 127.0.0.1:PORT, and with TLSPORT an implicit-TLS smtpd there, are on the
# network) and the part of main.cf every instance shares; the caller appends
# its own lines to DIR/conf/main.cf.
postfix_instance() {
	local d=$1 port=$2 tlsport=${3:-}
	mkdir -p "$d/conf" "$d/queue" "$d/data"
	chown postfix "$d/data"
	chmod 700 "$d/data"
	cat >"$d/conf/main.cf" <<EOF
# written by bench/run; a private instance, not /etc/postfix
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = postfix.bench.local.test
mydomain = bench.local.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
smtpd_tls_security_level = may
EOF
	cat >"$d/conf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n -        n       -       -       smtpd
EOF
	if [ -n "$tlsport" ]; then
		# the smtps service of Debian's master.cf: TLS from the first byte
		cat >>"$d/conf/master.cf" <<EOF
127.0.0.1:$tlsport inet n -     n       -       -       smtpd
  -o smtpd_tls_wrappermode=yes
EOF
	fi
	cat >>"$d/conf/master.cf" <<EOF
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
tlsproxy  unix  -       -       n       -       0       tlsproxy
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# postfix_start DIR PORT: checks and starts the instance, waits for its 220.
postfix_start() {
	local d=$1 port=$2 pid
	/usr/sbin/postfix -c "$d/conf" check >"$d/check.log" 2>&1 ||
		{ cat "$d/check.log" >&2; die "postfix check failed ($d)"; }
	PF_STARTED+=("$d/conf")
	/usr/sbin/postfix -c "$d/conf" start >"$d/start.log" 2>&1 ||
		{ cat "$d/start.log" >&2; die "postfix start failed ($d)"; }
	pid=$(sed -n '1s/ //gp' "$d/queue/pid/master.pid" 2>/dev/null || true)
	"${HELP[@]}" waitport "$port" 30 ${pid:+"$pid"} || die "Postfix did not answer ($d)"
}

stop_postfix() { # CONF
	local c keep=()
	/usr/sbin/postfix -c "$1" stop >/dev/null 2>&1 || log "warning: postfix -c $1 stop failed"
	for c in "${PF_STARTED[@]}"; do [ "$c" = "$1" ] || keep+=("$c"); done
	PF_STARTED=("${keep[@]}")
}

# Postfix files left in a queue (0 when everything has left).
postfix_queue_files() {
	local q=$1/queue
	find "$q/incoming" "$q/active" "$q/deferred" "$q/hold" "$q/maildrop" "$q/corrupt" \
		-type f 2>/dev/null | wc -l
}

# The inbound instance: example.test is a virtual mailbox domain delivered
# to a Maildir; smtpd on PF_PORT (STARTTLS offered) and on PF_TLS_PORT
# (implicit TLS).
start_postfix() {
	PF_PORT=$("${HELP[@]}" freeport)
	PF_TLS_PORT=$("${HELP[@]}" freeport)
	VUID=$(id -u nobody)
	VGID=$(id -g nobody)
	postfix_instance "$PF" "$PF_PORT" "$PF_TLS_PORT"
	PF_MAILDIR=$T/vmail/example.test/user
	mkdir -p "$PF_MAILDIR"/{new,cur,tmp}
	chown -R "$VUID:$VGID" "$T/vmail"

	echo "user@example.test example.test/user/" >"$PFCONF/vmailbox"
	cat >>"$PFCONF/main.cf" <<EOF
relayhost =
virtual_mailbox_domains = example.test
virtual_mailbox_base = $T/vmail
virtual_mailbox_maps = texthash:$PFCONF/vmailbox
virtual_uid_maps = static:$VUID
virtual_gid_maps = static:$VGID
EOF
	postfix_start "$PF" "$PF_PORT"
	"${HELP[@]}" waitport "$PF_TLS_PORT" 30 --tls || die "Postfix's smtps listener did not answer"
	log "postfix $PF_VERSION on 127.0.0.1:$PF_PORT (implicit TLS on $PF_TLS_PORT), queue $PF/queue"
}

# The relay suite's instance for one TLS level: no local or virtual domain,
# everything goes to the relay host (the sink), with Postfix's defaults for
# connection caching and concurrency.
start_postfix_relay() { # LEVEL SINKPORT
	PFR=$T/postfix-relay-$1
	PFR_PORT=$("${HELP[@]}" freeport)
	postfix_instance "$PFR" "$PFR_PORT"
	cat >>"$PFR/conf/main.cf" <<EOF
relay_domains =
relayhost = [127.0.0.1]:$2
smtp_tls_security_level = $1
EOF
	if [ "$PF_TLS_REUSE" = 1 ]; then
		echo "smtp_tls_connection_reuse = yes" >>"$PFR/conf/main.cf"
	fi
	postfix_start "$PFR" "$PFR_PORT"
	log "postfix $PF_VERSION (relay, smtp_tls_security_level = $1) on 127.0.0.1:$PFR_PORT, queue $PFR/queue"
}

# --- sealmail ------------------------------------------------------------------

# sealmail_config FILE DATA_DIR PORT: the inbound configuration. The caller
# may set, for this call: SM_TLS_PORT (an implicit-TLS listener), SM_SERVER
# (more [server] lines), SM_LIMITS ([limits] lines), SM_RELAY="LEVEL
# SINKPORT" (the relay suite's additions).
sealmail_config() {
	local f=$1 data=$2 port=$3 relay=()
	read -r -a relay <<<"${SM_RELAY:-}"
	cat >"$f" <<EOF
[server]
hostname = bench.local.test
data_dir = $data
local_domains = example.test
users = $T/users
EOF
	[ "${#relay[@]}" = 2 ] && echo "trusted_networks = 127.0.0.0/8" >>"$f"
	[ -n "${SM_SERVER:-}" ] && echo "$SM_SERVER" >>"$f"
	cat >>"$f" <<EOF

[tls]
certificate = $T/cert.pem
key = $T/key.pem

[listen mx]
address = 127.0.0.1:$port
protocol = smtp
tls = optional
EOF
	if [ -n "${SM_TLS_PORT:-}" ]; then
		printf '\n[listen smtps]\naddress = 127.0.0.1:%s\nprotocol = smtp\ntls = implicit\n' \
			"$SM_TLS_PORT" >>"$f"
	fi
	[ -n "${SM_LIMITS:-}" ] && printf '\n[limits]\n%s\n' "$SM_LIMITS" >>"$f"
	if [ "${#relay[@]}" = 2 ]; then
		printf '\n[outbound]\ntls = %s\n\n[routes]\nrelay.test = 127.0.0.1:%s\n' \
			"${relay[0]}" "${relay[1]}" >>"$f"
	fi
	"$SEALMAIL" config check -c "$f" >"$f.check" 2>&1 ||
		{ cat "$f.check" >&2; die "sealmail config check failed for $f"; }
}

# sealmail_start CONF DATA_DIR PORT LOG [WRAPPER...]: starts sealmail (under
# WRAPPER, e.g. valgrind, when given) and waits for its 220; sets SEAL_PID.
sealmail_start() {
	local conf=$1 data=$2 port=$3 logf=$4
	shift 4
	mkdir -p "$data"
	if getent passwd sealmail >/dev/null; then
		chown sealmail: "$data"
	fi
	echo "user@example.test:*" >"$T/users"
	chmod 644 "$T/users"
	"$@" "$SEALMAIL" serve -c "$conf" -f </dev/null >"$logf" 2>&1 &
	SEAL_PID=$!
	BG_PIDS+=("$SEAL_PID")
	"${HELP[@]}" waitport "$port" "${SM_WAIT:-30}" "$SEAL_PID" || die "sealmail did not answer ($logf)"
}

# The inbound instance: plain/STARTTLS on SEAL_PORT, implicit TLS on
# SEAL_TLS_PORT.
start_sealmail() {
	SEAL_PORT=$("${HELP[@]}" freeport)
	SEAL_TLS_PORT=$("${HELP[@]}" freeport)
	SEAL_MAILDIR=$T/sealmail-data/mail/example.test/user
	SM_TLS_PORT=$SEAL_TLS_PORT sealmail_config "$SCONF" "$T/sealmail-data" "$SEAL_PORT"
	sealmail_start "$SCONF" "$T/sealmail-data" "$SEAL_PORT" "$SEAL_LOG"
	SEAL_INBOUND_PID=$SEAL_PID
	"${HELP[@]}" waitport "$SEAL_TLS_PORT" 30 "$SEAL_PID" --tls || die "sealmail's implicit-TLS listener did not answer"
	log "sealmail on 127.0.0.1:$SEAL_PORT (implicit TLS on $SEAL_TLS_PORT), data $T/sealmail-data"
}

start_sealmail_relay() { # LEVEL SINKPORT
	SRDATA=$T/sealmail-relay-$1
	SRCONF=$T/sealmail-relay-$1.conf
	SRLOG=$T/sealmail-relay-$1.log
	SR_PORT=$("${HELP[@]}" freeport)
	SM_RELAY="$1 $2" sealmail_config "$SRCONF" "$SRDATA" "$SR_PORT"
	sealmail_start "$SRCONF" "$SRDATA" "$SR_PORT" "$SRLOG"
	log "sealmail (relay, [outbound] tls = $1) on 127.0.0.1:$SR_PORT, data $SRDATA"
}

sealmail_queue_files() { find "$1/queue" -type f 2>/dev/null | wc -l; }

# The inbound pair (both servers, as BENCH_ONLY allows), started once for
# the suites that share it and stopped by stop_inbound_servers.
INBOUND_UP=0
ensure_inbound_servers() {
	[ "$INBOUND_UP" = 1 ] && return 0
	want postfix && start_postfix
	want sealmail && start_sealmail
	INBOUND_UP=1
}

stop_inbound_servers() {
	[ "$INBOUND_UP" = 1 ] || return 0
	want sealmail && { stop_pid "$SEAL_INBOUND_PID"; SEAL_INBOUND_PID=; }
	want postfix && stop_postfix "$PFCONF"
	INBOUND_UP=0
}

port_of() { if [ "$1" = postfix ]; then echo "$PF_PORT"; else echo "$SEAL_PORT"; fi; }
tls_port_of() { if [ "$1" = postfix ]; then echo "$PF_TLS_PORT"; else echo "$SEAL_TLS_PORT"; fi; }
maildir_of() { if [ "$1" = postfix ]; then echo "$PF_MAILDIR"; else echo "$SEAL_MAILDIR"; fi; }

# settle SERVER: before a round, waits (polling, at most 60 s) until the
# server's queue is empty, then flushes the page cache's dirty pages.
settle() {
	local i n=0
	for i in $(seq 600); do
		case $1 in
		postfix) n=$(postfix_queue_files "$PF") ;;
		sealmail) n=$(sealmail_queue_files "${2:-$T/sealmail-data}") ;;
		*) n=0 ;;
		esac
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	[ "$n" = 0 ] || die "$1: $n files still queued 60 s after the last round"
	sync
}

# --- sinks ---------------------------------------------------------------------

# Postfix's smtp-sink, the no-disk ceiling for plaintext: started once,
# counting on its stdout (-c); SMTP_SINK_PORT, SMTP_SINK_OUT.
ensure_smtp_sink() {
	[ -n "${SMTP_SINK_PID:-}" ] && return 0
	SMTP_SINK_PORT=$("${HELP[@]}" freeport)
	SMTP_SINK_OUT=$T/smtp-sink.out
	"$SMTP_SINK" -c -u postfix -h sink.bench.local.test "127.0.0.1:$SMTP_SINK_PORT" 1024 \
		</dev/null >"$SMTP_SINK_OUT" 2>"$T/smtp-sink.err" &
	SMTP_SINK_PID=$!
	BG_PIDS+=("$SMTP_SINK_PID")
	"${HELP[@]}" waitport "$SMTP_SINK_PORT" 30 "$SMTP_SINK_PID" || die "smtp-sink did not answer"
	log "smtp-sink (the plaintext ceiling) on 127.0.0.1:$SMTP_SINK_PORT"
}

build_sink() {
	[ -x "${SINK:-}" ] && return 0
	SINK=$T/tls-sink
	cc -O2 -Wall -o "$SINK" "$HERE/tls-sink.c" -lssl -lcrypto -levent -levent_openssl \
		>"$T/tls-sink.build.log" 2>&1 ||
		{ cat "$T/tls-sink.build.log" >&2; die "building bench/tls-sink.c failed (libssl-dev, libevent-dev?)"; }
}

# start_tls_sink NAME MODE: bench/tls-sink in MODE plain (no STARTTLS),
# starttls (STARTTLS offered) or implicit; sets TSINK_PORT, TSINK_COUNTS,
# TSINK_LOG, TSINK_PID.
start_tls_sink() {
	local args=()
	build_sink
	TSINK_PORT=$("${HELP[@]}" freeport)
	TSINK_COUNTS=$T/sink-$1.counts
	TSINK_LOG=$T/sink-$1.log
	case $2 in
	starttls) args=(-c "$T/cert.pem" -k "$T/key.pem") ;;
	implicit) args=(-c "$T/cert.pem" -k "$T/key.pem" -I) ;;
	esac
	"$SINK" -l "127.0.0.1:$TSINK_PORT" -o "$TSINK_COUNTS" "${args[@]}" </dev/null >"$TSINK_LOG" 2>&1 &
	TSINK_PID=$!
	BG_PIDS+=("$TSINK_PID")
	if [ "$2" = implicit ]; then
		"${HELP[@]}" waitport "$TSINK_PORT" 30 "$TSINK_PID" --tls || die "the sink did not answer"
	else
		"${HELP[@]}" waitport "$TSINK_PORT" 30 "$TSINK_PID" || die "the sink did not answer"
	fi
	log "tls-sink ($2) on 127.0.0.1:$TSINK_PORT, counts in $TSINK_COUNTS"
}
